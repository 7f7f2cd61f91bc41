"""Issue 20's privacy holes, on a real database (SQLite and PostgreSQL): sealed transcripts and SMS,
erasure by normalised number everywhere, the operator's erasure reaching the line tenant's rows."""

from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import text

from infra.crypto import Keyring
from infra.database import session_factory, upgrade, upgrade_sync
from infra.recordings import RecordingStore
from privacy.service import PrivacyService
from telephony.call_store import CallStore

KEYRING = Keyring.parse(f"k:{base64.b64encode(b'k' * 32).decode()}")


@pytest.fixture
def recordings(tmp_path):
    return RecordingStore(tmp_path / "rec", tmp_path / "keys", KEYRING)


async def test_transcripts_and_sms_bodies_are_not_in_the_database_in_clear(db_url):
    await upgrade(db_url)
    store = CallStore(db_url, "tenant-a", KEYRING)
    call_id = await store.call_started("inbound", "+79161234567", "anna")
    secret = "моя карта 4276 1234 5678 9012, перезвоните Ивану"
    await store.call_ended(call_id, "caller_goodbye", [{"speaker": "caller", "text": secret}])
    await store.sms_saved("inbound", "+79161234567", secret)
    async with session_factory(db_url)() as s:
        dump = json.dumps([list(r) for r in (await s.execute(text("SELECT * FROM calls"))).all()], default=str)
        dump += json.dumps([list(r) for r in (await s.execute(text("SELECT * FROM sms_messages"))).all()], default=str)
    assert "4276" not in dump and "Ивану" not in dump and "\\u0418\\u0432\\u0430\\u043d\\u0443" not in dump
    assert (await store.get_call(call_id))["transcript"][0]["text"] == secret  # the owner still reads it
    assert (await store.list_sms()).items[0]["text"] == secret
    # Sealed to its tenant and record: another tenant's store, or a moved row, reads nothing.
    async with session_factory(db_url)() as s:
        await s.execute(text("UPDATE calls SET tenant_id = 'tenant-b'"))
        await s.commit()
    assert (await CallStore(db_url, "tenant-b", KEYRING).get_call(call_id))["transcript"] == []


def test_the_migration_seals_rows_written_in_clear_before_it(tmp_path, monkeypatch):
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    upgrade_sync(url, "0010")
    import sqlite3

    db = sqlite3.connect(tmp_path / "old.db")
    db.execute(
        "INSERT INTO calls (id, tenant_id, direction, number_masked, number_hash, status, started_at, transcript, turns,"
        " barge_ins) VALUES ('c1', 't', 'inbound', '+7916***4567', 'h', 'ended', '2026-11-01 10:00:00', ?, 1, 0)",
        (json.dumps([{"speaker": "caller", "text": "old secret"}]),),
    )
    db.execute(
        "INSERT INTO sms_messages (tenant_id, direction, number_masked, number_hash, text, at)"
        " VALUES ('t', 'inbound', '+7916***4567', 'h', 'old sms secret', '2026-11-01 10:00:00')"
    )
    db.commit()
    key = base64.b64encode(b"k" * 32).decode()
    monkeypatch.setenv("SECRETARY_MASTER_KEYS", f"k:{key}")
    from infra.settings import get_settings

    get_settings.cache_clear()
    try:
        upgrade_sync(url)
    finally:
        get_settings.cache_clear()
    raw = json.dumps(db.execute("SELECT * FROM calls").fetchall() + db.execute("SELECT * FROM sms_messages").fetchall())
    assert "old secret" not in raw and "old sms secret" not in raw

    async def read():
        store = CallStore(url, "t", KEYRING)
        return (await store.get_call("c1"))["transcript"], (await store.list_sms()).items[0]["text"]

    import asyncio

    assert asyncio.run(read()) == ([{"speaker": "caller", "text": "old secret"}], "old sms secret")


async def test_erasure_matches_the_number_however_it_was_written(db_url, recordings):
    await upgrade(db_url)
    store = CallStore(db_url, None, KEYRING)
    # An outbound call the admin typed with spaces and dashes, an SMS in the trunk format, an inbound call in E.164.
    await store.call_started("outbound", "+7 (916) 123-45-67", None)
    await store.sms_saved("outbound", "8 916 123 45 67", "we called you")
    await store.call_started("inbound", "+79161234567", "anna")
    await store.call_started("inbound", "+79035550000", "anna")
    result = await PrivacyService(db_url, None, recordings).erase("89161234567", actor="operator")
    assert (result.calls, result.sms) == (2, 1)
    assert (await store.list_calls()).total == 1


async def test_the_operators_erasure_reaches_every_tenant_and_a_tenants_only_its_own(db_url, recordings):
    await upgrade(db_url)
    line = CallStore(db_url, "line-tenant", KEYRING)  # the modem's line belongs to a tenant
    other = CallStore(db_url, "other-tenant", KEYRING)
    for store in (line, other):
        await store.call_started("inbound", "+79161234567", "anna")
        await store.sms_saved("inbound", "+79161234567", "hi")
    mine = await PrivacyService(db_url, "other-tenant", recordings).erase("+79161234567", actor="owner")
    assert (mine.calls, mine.sms) == (1, 1) and (await line.list_calls()).total == 1
    everywhere = await PrivacyService(db_url, None, recordings, everywhere=True).erase("+79161234567", actor="op")
    assert (everywhere.calls, everywhere.sms) == (1, 1) and (await line.list_calls()).total == 0
