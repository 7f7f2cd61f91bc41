"""Call and SMS records on a real database: lifecycle, pagination, filters, tenant scoping, masking."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from infra.database import session_factory, upgrade
from infra.pii import mask_number, number_hash
from telephony.call_store import CallStore


@pytest.fixture
async def url(db_url):
    await upgrade(db_url)  # SQLite and PostgreSQL, both real
    return db_url


async def test_lifecycle_and_duration(url):
    store = CallStore(url)
    call_id = await store.call_started("inbound", "+79161234567", "anna")
    assert (await store.get_call(call_id))["status"] == "ringing"
    await store.call_answered(call_id)
    assert (await store.get_call(call_id))["status"] == "active"
    await store.call_ended(
        call_id, "caller_goodbye", [{"speaker": "caller", "text": "hi"}], barge_ins=2, recording_ref="default/x.wav"
    )
    call = await store.get_call(call_id)
    assert call["status"] == "ended" and call["turns"] == 1 and call["barge_ins"] == 2
    assert call["duration_s"] is not None and call["duration_s"] >= 0
    await store.call_ended("unknown", "x")  # no row: nothing happens, nothing raises


async def test_pagination_and_filters(url):
    store = CallStore(url)
    ids = [await store.call_started("outbound" if i % 2 else "inbound", f"+7916123450{i}", "anna") for i in range(7)]
    page = await store.list_calls(limit=3, offset=0)
    assert page.total == 7 and [c["id"] for c in page.items] == ids[::-1][:3]
    assert [c["id"] for c in (await store.list_calls(limit=3, offset=6)).items] == [ids[0]]
    outbound = await store.list_calls(direction="outbound")
    assert outbound.total == 3 and all(c["direction"] == "outbound" for c in outbound.items)
    assert (await store.list_calls(status="ended")).total == 0


async def test_tenants_see_only_their_own(url):
    a, b = CallStore(url, tenant_id="a"), CallStore(url, tenant_id="b")
    call_a = await a.call_started("inbound", "+79161234567", "anna")
    await b.call_started("inbound", "+79161234568", "marina")
    assert (await a.list_calls()).total == 1 and await b.get_call(call_a) is None
    assert await a.get_call(call_a) is not None
    await a.sms_saved("inbound", "+79161234567", "привет")
    assert (await b.list_sms()).total == 0 and (await a.list_sms()).total == 1


async def test_numbers_are_never_stored_in_clear(url):
    store = CallStore(url)
    await store.call_started("inbound", "+79161234567", "anna")
    await store.sms_saved("inbound", "+79161234567", "text")
    async with session_factory(url)() as s:
        raw = repr(
            [
                *(await s.execute(text("select * from calls"))).all(),
                *(await s.execute(text("select * from sms_messages"))).all(),
            ]
        )
    assert "79161234567" not in raw
    assert mask_number("+79161234567") in raw
    assert number_hash("+79161234567", "k1") != number_hash("+79161234567", "k2")
    assert mask_number(None) == "unknown" and mask_number("112") == "***"


async def test_dangling_calls_are_closed(url):
    store = CallStore(url)
    ringing = await store.call_started("inbound", "+79161234567", "anna")
    done = await store.call_started("inbound", "+79161234567", "anna")
    await store.call_ended(done, "caller_goodbye")
    assert await store.close_dangling() == 1
    assert (await store.get_call(ringing))["end_reason"] == "ingress_restarted"
    assert (await store.get_call(done))["end_reason"] == "caller_goodbye"


async def test_closing_a_lines_dangling_calls_leaves_other_lines_and_websocket_calls(url):
    modem, ws = CallStore(url, tenant_id="t-lines", line="modem"), CallStore(url, tenant_id="t-lines", line="websocket")
    other_modem = CallStore(url, tenant_id="t-lines", line="862636050029312")
    on_modem = await modem.call_started("inbound", "+79161234567", "anna", status="active")
    on_ws = await ws.call_started("inbound", "+79161234568", "anna", status="active")
    on_other = await other_modem.call_started("inbound", "+79161234569", "anna", status="active")
    assert await modem.close_dangling("ingress_lost") == 1
    assert (await modem.get_call(on_modem))["end_reason"] == "ingress_lost"
    assert (await modem.get_call(on_modem))["line"] == "modem"
    assert (await ws.get_call(on_ws))["status"] == "active"
    assert (await ws.get_call(on_other))["status"] == "active"
