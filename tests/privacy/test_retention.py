"""Retention by age on a real database (SQLite and PostgreSQL): each tenant's period, or the default."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from sqlalchemy import update

from infra.crypto import Keyring
from infra.database import transaction, upgrade, utcnow
from infra.recordings import DecryptionError, RecordingStore
from privacy.retention import Retention
from privacy.service import PrivacyService
from telephony.call_store import CallRow, CallStore, SmsRow

KEYRING = Keyring.parse(f"k:{base64.b64encode(b'r' * 32).decode()}")


@pytest.fixture
async def rig(db_url, tmp_path):
    await upgrade(db_url)
    recordings = RecordingStore(tmp_path / "rec", tmp_path / "keys", KEYRING)
    return db_url, recordings, Retention(db_url, recordings, default_days=365)


async def call(db_url, recordings, tenant, age_days: int) -> tuple[str, str]:
    store = CallStore(db_url, tenant, KEYRING)
    call_id = await store.call_started("inbound", "+79161234567", "anna")
    ref = recordings.write(call_id, b"RIFF-audio", tenant)
    await store.call_ended(call_id, "caller_goodbye", [{"speaker": "caller", "text": "hello"}], recording_ref=ref)
    sms_id = await store.sms_saved("inbound", "+79161234567", f"sms {age_days} days old")
    async with transaction(db_url) as s:
        at = utcnow() - timedelta(days=age_days)
        await s.execute(update(CallRow).where(CallRow.id == call_id).values(started_at=at))
        await s.execute(update(SmsRow).where(SmsRow.id == sms_id).values(at=at))
    return call_id, ref


async def test_content_past_each_tenants_period_is_deleted_and_the_rest_kept(rig):
    db_url, recordings, retention = rig
    await retention.set_days("short", 30)
    assert await retention.days("short") == (30, True) and await retention.days("long") == (365, False)
    old_short, old_short_ref = await call(db_url, recordings, "short", 31)
    new_short, _ = await call(db_url, recordings, "short", 29)
    kept_long, _ = await call(db_url, recordings, "long", 100)  # 100 days: within the default
    old_long, old_long_ref = await call(db_url, recordings, "long", 400)
    old_own, _ = await call(db_url, recordings, None, 400)  # the installation's own line
    report = await retention.sweep()
    assert (report.recordings, report.transcripts, report.sms) == (3, 3, 3)
    for tenant, call_id, gone in (
        ("short", old_short, True),
        ("short", new_short, False),
        ("long", kept_long, False),
        ("long", old_long, True),
        (None, old_own, True),
    ):
        record = await CallStore(db_url, tenant, KEYRING).get_call(call_id)
        assert (record["recording_ref"] is None, record["transcript"] == []) == (gone, gone), (tenant, call_id)
        assert record["status"] == "ended"  # the row stays: usage and statistics count it
    for ref in (old_short_ref, old_long_ref):
        with pytest.raises((DecryptionError, FileNotFoundError)):
            recordings.read(ref)
    texts = {s["text"] for s in (await CallStore(db_url, "short", KEYRING).list_sms()).items}
    assert texts == {"", "sms 29 days old"}
    again = await retention.sweep()
    assert (again.recordings, again.transcripts, again.sms) == (0, 0, 0)
    audit = await PrivacyService(db_url, "short", recordings).audit()
    assert [a["action"] for a in audit] == ["retention"] and audit[0]["details"]["transcripts"] == 1


async def test_a_period_out_of_range_is_refused(rig):
    _, _, retention = rig
    for days in (0, 3651):
        with pytest.raises(ValueError):
            await retention.set_days("t", days)


async def test_messages_caller_memory_and_clear_numbers_past_the_period_are_deleted(rig):
    from sqlalchemy import select

    from infra.database import session_factory
    from messages.caller_memory import CallerMemory
    from messages.desk import MessageDesk
    from messages.models import CallerRow, DeliveryRow, MessageRow
    from messages.outbox import Outbox

    db_url, _, retention = rig
    store = CallStore(db_url, "t")  # the desk reads with the installation's keyring
    ids = []
    for number in ("+79161234567", "+79035550000"):
        call_id = await store.call_started("inbound", number, "anna")
        await store.call_answered(call_id)
        await store.call_ended(call_id, "caller_goodbye", [{"speaker": "caller", "text": "My name is John, call me back."}])
        ids.append(call_id)
    await MessageDesk(Outbox({}, db_url), url=db_url).process_calls()
    old = utcnow() - timedelta(days=400)
    async with transaction(db_url) as s:  # the first caller called, and left the message, 400 days ago
        message_id, digest = (
            await s.execute(select(MessageRow.id, MessageRow.number_hash).where(MessageRow.call_id == ids[0]))
        ).one()
        await s.execute(update(CallRow).where(CallRow.id == ids[0]).values(started_at=old))
        await s.execute(update(MessageRow).where(MessageRow.id == message_id).values(created_at=old))
        await s.execute(update(CallerRow).where(CallerRow.number_hash == digest).values(last_call_at=old))
        s.add(
            DeliveryRow(
                tenant_id="t", message_id=message_id, channel="email", status="sent", attempts=1, next_attempt_at=old
            )
        )
    report = await retention.sweep()
    assert (report.messages, report.callers) == (1, 1)
    async with session_factory(db_url)() as s:
        assert [m.call_id for m in (await s.execute(select(MessageRow))).scalars()] == [ids[1]]
        assert (await s.execute(select(DeliveryRow))).scalars().all() == []
        numbers = {c.id: c.number_sealed for c in (await s.execute(select(CallRow))).scalars()}
    assert numbers[ids[0]] is None and numbers[ids[1]] is not None  # the old call keeps no clear number
    assert await CallerMemory(db_url, "t").recall("+79161234567") is None
    assert (await CallerMemory(db_url, "t").recall("+79035550000")).name == "John"
    assert (await retention.sweep()).messages == 0
