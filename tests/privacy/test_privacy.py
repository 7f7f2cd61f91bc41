"""Consent and erasure on a real database (SQLite and PostgreSQL) with encrypted recordings."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import text

from infra.crypto import Keyring
from infra.database import session_factory, upgrade
from infra.recordings import RecordingStore
from messages.caller_memory import CallerMemory
from messages.desk import MessageDesk
from messages.outbox import Outbox
from messages.store import MessageStore
from privacy.service import PrivacyService
from telephony.call_store import CallStore

CALLER, OTHER = "+79161234567", "+79035550000"


@pytest.fixture
async def db(db_url):
    await upgrade(db_url)
    return db_url


@pytest.fixture
def recordings(tmp_path):
    return RecordingStore(tmp_path / "rec", tmp_path / "keys", Keyring.parse(f"k:{base64.b64encode(b'k' * 32).decode()}"))


async def make_call(store: CallStore, recordings: RecordingStore, number: str, tenant: str | None) -> tuple[str, str]:
    call_id = await store.call_started("inbound", number, "anna")
    await store.call_answered(call_id)
    ref = recordings.write(call_id, b"RIFF-audio-" + number.encode(), tenant)
    await store.call_ended(
        call_id, "caller_goodbye", [{"speaker": "caller", "text": "my number is " + number}], recording_ref=ref
    )
    return call_id, ref


async def test_the_latest_consent_decision_wins_and_bad_kinds_are_refused(db, recordings):
    svc = PrivacyService(db, None, recordings)
    await svc.record_consent(CALLER, "call_recording", True, "2026-11-25", "call")
    await svc.record_consent(CALLER, "voice_processing", True, "2026-11-25", "call")
    await svc.record_consent(CALLER, "call_recording", False, "2026-11-25", "sms")
    found = await svc.consents(CALLER)
    assert found["call_recording"].granted is False and found["call_recording"].channel == "sms"
    assert found["voice_processing"].granted is True
    assert await svc.consents(OTHER) == {}
    assert await PrivacyService(db, "other-tenant", recordings).consents(CALLER) == {}
    with pytest.raises(ValueError):
        await svc.record_consent(CALLER, "marketing", True, "v1")


async def test_erasure_removes_everything_about_the_caller_and_nothing_else(db, recordings):
    store = CallStore(db)
    _, ref = await make_call(store, recordings, CALLER, None)
    await make_call(store, recordings, CALLER, None)
    other_id, other_ref = await make_call(store, recordings, OTHER, None)
    await store.sms_saved("inbound", CALLER, "call me back")
    await store.sms_saved("inbound", OTHER, "hello")
    desk = MessageDesk(Outbox({}, db), url=db)  # the owner's messages about each call, and caller memory
    assert await desk.process_calls() == 3
    assert (await CallerMemory(db).recall(CALLER)).calls == 2
    svc = PrivacyService(db, None, recordings)
    await svc.record_consent(CALLER, "call_recording", True, "2026-11-25")
    result = await svc.erase(CALLER, actor="owner-1")
    assert (result.calls, result.recordings, result.sms, result.consents) == (2, 2, 1, 1)
    assert (result.messages, result.callers) == (2, 1)
    assert await CallerMemory(db).recall(CALLER) is None and (await CallerMemory(db).recall(OTHER)).calls == 1
    left, total = await MessageStore(db).list()
    assert total == 1 and left[0]["number"] == OTHER
    with pytest.raises(FileNotFoundError):
        recordings.read(ref)  # the key is destroyed: no copy of the file can be played
    assert recordings.read(other_ref).endswith(OTHER.encode())
    assert [c["id"] for c in (await store.list_calls()).items] == [other_id]
    assert [m["number"] for m in (await store.list_sms()).items] == ["+7903***0000"]
    async with session_factory(db)() as s:
        rows = (await s.execute(text("select action, subject_hash, actor, details from privacy_audit"))).all()
        dump = " ".join(str(v) for row in rows for v in row)  # not its time: "…:23.456767" holds "4567"
    assert "owner-1" in dump and "erasure" in dump and CALLER not in dump and "4567" not in dump
    audit = await svc.audit()
    assert audit[0]["details"] == {"calls": 2, "recordings": 2, "sms": 1, "consents": 1, "messages": 2, "callers": 1}
    assert (await svc.erase(CALLER, actor="owner-1")).calls == 0  # idempotent


async def test_erasure_in_one_tenant_leaves_another_tenants_data(db, recordings):
    a, b = CallStore(db, tenant_id="tenant-a"), CallStore(db, tenant_id="tenant-b")
    await make_call(a, recordings, CALLER, "tenant-a")
    _, b_ref = await make_call(b, recordings, CALLER, "tenant-b")
    assert (await PrivacyService(db, "tenant-a", recordings).erase(CALLER, "a-owner")).calls == 1
    assert len((await b.list_calls()).items) == 1 and recordings.read(b_ref)
    assert await PrivacyService(db, "tenant-b", recordings).audit() == []
