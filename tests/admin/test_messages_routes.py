"""``/admin/messages`` and ``/admin/screening``: the owner's inbox, channels, screened calls,
corrections and lists; each tenant sees only its own, whatever ids it sends."""

from __future__ import annotations

import httpx
import pytest

from admin import dependencies
from admin.app import app
from infra.auth import issue_session_token
from infra.database import upgrade
from infra.settings import get_settings
from messages.desk import MessageDesk
from messages.outbox import Outbox
from telephony.call_store import CallStore
from tests.asgi_server import serving
from tests.fake_telegram import TOKEN as BOT_TOKEN

ADMIN = {"Authorization": "Bearer messages-admin-token-0123456789"}


@pytest.fixture
async def client(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRETARY_ADMIN_TOKEN", ADMIN["Authorization"].split()[1])
    monkeypatch.setenv("SECRETARY_JWT_SECRET", "messages-test-jwt-secret-0123456789abcdef")
    get_settings.cache_clear()
    url = f"sqlite+aiosqlite:///{tmp_path / 'admin.db'}"
    await upgrade(url)
    dependencies.bind(CallStore(url), None)
    async with serving(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as c:
        c.db = url
        yield c
    dependencies.bind(None, None)
    get_settings.cache_clear()


def session(tenant: str, role: str = "owner") -> dict:
    return {"Authorization": f"Bearer {issue_session_token(f'user-{tenant}', tenant, role)}"}


async def message_for(url: str, tenant: str, words: str, number: str = "+79161234567") -> str:
    store = CallStore(url, tenant)
    call_id = await store.call_started("inbound", number, "anna")
    await store.call_answered(call_id)
    await store.call_ended(call_id, "caller_goodbye", [{"speaker": "caller", "text": words}])
    await MessageDesk(Outbox({}, url), url=url).process_calls()
    return call_id


async def test_an_owner_reads_and_marks_their_messages_and_no_one_elses(client):
    await message_for(client.db, "tenant-a", "My name is John Smith, please call me back at five o'clock.")
    await message_for(client.db, "tenant-b", "This is Maria, I'd like to book an appointment.", "+79035550000")
    a, b = session("tenant-a"), session("tenant-b", "admin")
    inbox = (await client.get("/messages", headers=a)).json()
    assert inbox["total"] == 1 and inbox["items"][0]["caller_name"] == "John Smith"
    assert inbox["items"][0]["number"] == "+79161234567" and inbox["items"][0]["callback_text"].endswith("17:00")
    mid = inbox["items"][0]["id"]
    for method, path, body in (
        ("GET", f"/messages/{mid}", None),
        ("PATCH", f"/messages/{mid}", {"status": "done"}),
        ("POST", f"/screening/calls/{mid}/verdict", {"verdict": "spam"}),
    ):
        r = await client.request(method, path, headers=b, json=body)
        assert r.status_code == 404 and r.json()["error"]["code"] == "message_not_found", (method, path, r.text)
    assert (await client.get(f"/messages/{mid}", headers=a)).json()["status"] == "new"  # untouched by b
    r = await client.patch(f"/messages/{mid}", headers=a, json={"status": "read"})
    assert r.status_code == 200 and r.json()["status"] == "read"
    assert (await client.get("/messages", headers=a, params={"status": "new"})).json()["total"] == 0
    assert (await client.patch(f"/messages/{mid}", headers=a, json={"status": "archived"})).status_code == 400
    assert (await client.get("/messages", headers=ADMIN)).json()["total"] == 2  # the operator sees every tenant's


async def test_channels_are_each_tenants_own_and_secrets_never_come_back(client):
    a = session("tenant-a")
    body = {
        "email": "Artem@Example.com",
        "telegram_bot_token": BOT_TOKEN,
        "telegram_chat_id": "4242",
        "sms_number": "+79161112233",
        "language": "ru",
        "quiet_start": "22:00",
        "quiet_end": "08:00",
    }
    r = await client.put("/messages/channels", headers=a, json=body)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["channels"] == ["email", "telegram", "sms"] and got["sms_number"] == "+7916***2233"
    assert BOT_TOKEN not in r.text and got["telegram"] == {"chat_id": "4242", "bot": "123456789"}
    assert (await client.get("/messages/channels", headers=session("tenant-b"))).json()["channels"] == []
    other = await client.get("/messages/channels", headers=a, params={"tenant": "tenant-b"})
    assert other.status_code == 404
    assert (await client.get("/messages/channels", headers=ADMIN, params={"tenant": "tenant-a"})).json() == got
    off = await client.put("/messages/channels", headers=a, json={"telegram_bot_token": None, "telegram_chat_id": None})
    assert off.json()["channels"] == ["email", "sms"]
    for bad in (
        {"email": "not-an-address"},
        {"telegram_bot_token": "abc"},
        {"telegram_bot_token": BOT_TOKEN},  # without its chat
        {"sms_number": "call me"},
        {"quiet_start": "22:00"},  # without its end
        {"quiet_start": "25:00", "quiet_end": "08:00"},
        {"timezone": "Mars/Olympus"},
        {"unknown": 1},
    ):
        r = await client.put("/messages/channels", headers=a, json=bad)
        assert r.status_code == 400, (bad, r.text)


async def test_a_correction_releases_a_screened_call_and_feeds_the_lists(client):
    a = session("tenant-a")
    await message_for(client.db, "tenant-a", "Congratulations, you have won a prize, press one now!", "+79035551111")
    screened = (await client.get("/screening/calls", headers=a)).json()
    assert screened["total"] == 1 and screened["items"][0]["screened"] == "spam"
    assert (await client.get("/messages", headers=a)).json()["total"] == 0
    await client.put("/messages/channels", headers=a, json={"email": "artem@example.com"})
    mid = screened["items"][0]["id"]
    r = await client.post(f"/screening/calls/{mid}/verdict", headers=a, json={"verdict": "legit"})
    assert r.status_code == 200 and r.json()["list"] == "allow" and r.json()["screened"] is None
    full = (await client.get(f"/messages/{mid}", headers=a)).json()
    assert [(d["channel"], d["status"]) for d in full["deliveries"]] == [("email", "pending")]
    lists = (await client.get("/screening/lists", headers=a)).json()["items"]
    assert [(e["number"], e["list"], e["source"]) for e in lists] == [("+7903***1111", "allow", "correction")]
    assert (await client.get("/screening/lists", headers=session("tenant-b"))).json()["items"] == []


async def test_lists_take_numbers_in_any_form_and_refuse_what_is_not_one(client):
    a = session("tenant-a")
    r = await client.put(
        "/screening/lists", headers=a, json={"number": "8 (916) 123-45-67", "list": "block", "note": "spam"}
    )
    assert r.status_code == 200 and r.json()["number"] == "+7916***4567"
    entry = r.json()["id"]
    again = await client.put("/screening/lists", headers=a, json={"number": "+79161234567", "list": "allow"})
    assert again.json()["id"] == entry  # one caller, one entry, whatever the form
    assert (await client.put("/screening/lists", headers=a, json={"number": "hello", "list": "block"})).status_code == 400
    assert (
        await client.put("/screening/lists", headers=a, json={"number": "+79161234567", "list": "maybe"})
    ).status_code == 400
    assert (await client.delete(f"/screening/lists/{entry}", headers=session("tenant-b"))).status_code == 404
    assert (await client.delete(f"/screening/lists/{entry}", headers=a)).status_code == 200
    assert (await client.get("/screening/lists", headers=a)).json()["items"] == []
