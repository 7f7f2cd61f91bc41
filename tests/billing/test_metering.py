"""Usage metering on a real redis-server and a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
import uuid
from datetime import UTC, datetime

import pytest

from billing.metering import GROUP, STREAM, UsageMeter
from infra.database import upgrade


@pytest.fixture
async def meter(redis_server, db_url):
    await upgrade(db_url)
    m = UsageMeter(redis_server.url, db_url)
    await m.flush()  # the session's Redis is shared: start from an empty stream, whatever ran before
    yield m
    await m.close()


def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


async def test_fifty_concurrent_requests_against_room_for_twenty_admit_exactly_twenty(meter):
    t = tenant()
    results = await asyncio.gather(*(meter.consume(t, "call_ms", 1000, limit=20_000) for _ in range(50)))
    assert sum(r.allowed for r in results) == 20
    assert await meter.used(t, "call_ms") == 20_000
    refused = [r for r in results if not r.allowed]
    assert all(r.used == 20_000 and r.limit == 20_000 for r in refused)
    assert await meter.flush() == 20
    assert await meter.ledger_totals(t) == {"call_ms": 20_000}


async def test_a_retried_event_counts_once_and_over_limit_usage_can_be_recorded(meter):
    t = tenant()
    first = await meter.consume(t, "llm_tokens", 50, limit=100, event_id="req-1")
    again = await meter.consume(t, "llm_tokens", 50, limit=100, event_id="req-1")
    assert first.allowed and again.allowed and again.duplicate and await meter.used(t, "llm_tokens") == 50
    # A reply already generated is recorded even past the limit; the next check then refuses.
    assert (await meter.consume(t, "llm_tokens", 80, limit=100, allow_over=True)).used == 130
    assert not (await meter.consume(t, "llm_tokens", 1, limit=100)).allowed
    await meter.flush()
    assert await meter.ledger_totals(t) == {"llm_tokens": 130}


async def test_flush_is_idempotent_and_reconcile_restores_lost_counters(meter):
    t = tenant()
    day = datetime(2026, 11, 3, 12, tzinfo=UTC)
    for i in range(5):
        await meter.consume(t, "stt_ms", 200, at=day.replace(day=3 + i % 2))
    await meter.consume(t, "tts_ms", 700, at=day)
    assert await meter.flush() == 6 and await meter.flush() == 0
    await meter.redis.delete(f"usage:{{{t}}}:2026-11")  # Redis lost the counters
    assert await meter.used(t, "stt_ms", "2026-11") == 0
    assert await meter.reconcile(t, "2026-11") == {"stt_ms": 1000, "tts_ms": 700}
    assert await meter.used(t, "stt_ms", "2026-11") == 1000
    assert await meter.daily(t, "stt_ms", "2026-11") == {3: 600, 4: 400}


async def test_bad_usage_is_refused(meter):
    with pytest.raises(ValueError):
        await meter.consume(tenant(), "gpu_hours", 1)
    with pytest.raises(ValueError):
        await meter.consume(tenant(), "call_ms", -5)


async def test_two_tenants_may_use_the_same_event_id_and_both_are_counted(meter):
    a, b = tenant(), tenant()
    assert (await meter.consume(a, "llm_tokens", 10, event_id="same")).allowed
    assert (await meter.consume(b, "llm_tokens", 20, event_id="same")).allowed
    assert await meter.flush() == 2
    assert await meter.ledger_totals(a) == {"llm_tokens": 10}
    assert await meter.ledger_totals(b) == {"llm_tokens": 20}


async def test_an_over_long_event_id_is_refused_at_consume(meter):
    with pytest.raises(ValueError, match="event id"):
        await meter.consume(tenant(), "call_ms", 5, event_id="x" * 129)


async def test_events_the_ledger_cannot_take_go_to_dead_letters_and_never_stall_the_flush(meter, db_url):

    t = tenant()
    now_ms = str(int(datetime.now(UTC).timestamp() * 1000))
    period = datetime.now(UTC).strftime("%Y-%m")
    good = {"tenant": t, "period": period, "metric": "tts_ms", "amount": "5", "at_ms": now_ms}
    await meter.consume(t, "tts_ms", 7, event_id="before")
    # Written by an older release or by hand: an id longer than the ledger's column, a metric
    # nobody knows, a field missing, and (refused by PostgreSQL itself, not by a check) a NUL.
    await meter.redis.xadd(STREAM, {**good, "id": "y" * 300})
    await meter.redis.xadd(STREAM, {**good, "id": "m1", "metric": "gpu_hours"})
    await meter.redis.xadd(STREAM, {k: v for k, v in {**good, "id": "m2"}.items() if k != "amount"})
    await meter.redis.xadd(STREAM, {**good, "id": "nul\x00id"})
    await meter.consume(t, "tts_ms", 11, event_id="after")
    written = await meter.flush()
    dead = await meter.dead_letters()
    reasons = [d["error"] for d in dead]
    assert any("longer than 128" in r for r in reasons)
    assert any("unknown metric" in r for r in reasons)
    assert any("'amount' is missing" in r for r in reasons)
    postgres = db_url.startswith("postgresql")
    if postgres:
        assert any("refused by the database" in r for r in reasons) and len(dead) == 4
    totals = await meter.ledger_totals(t)
    assert totals == {"tts_ms": 7 + 11 + (0 if postgres else 5)}
    assert written == (2 if postgres else 3)
    assert await meter.redis.xlen(STREAM) == 0  # nothing left behind to block the next flush
    assert await meter.flush() == 0


async def test_a_refund_gives_back_a_counted_event_once(meter):
    t = tenant()
    assert (await meter.consume(t, "finetunes", 1, limit=1, event_id="finetune:ft-1")).allowed
    assert not (await meter.consume(t, "finetunes", 1, limit=1, event_id="finetune:ft-2")).allowed
    assert await meter.refund(t, "finetunes", 1, "finetune:ft-1")
    assert not await meter.refund(t, "finetunes", 1, "finetune:ft-1")  # once
    assert not await meter.refund(t, "finetunes", 1, "finetune:never-counted")
    assert await meter.used(t, "finetunes") == 0
    assert (await meter.consume(t, "finetunes", 1, limit=1, event_id="finetune:ft-2")).allowed  # room again
    await meter.flush()
    assert await meter.ledger_totals(t) == {"finetunes": 1}  # +1, -1, +1
    assert await meter.dead_letters() == []


CHILD = textwrap.dedent("""
    import asyncio, sys
    from billing.metering import UsageMeter

    async def main():
        meter = UsageMeter(sys.argv[1], sys.argv[2], stream=sys.argv[4])
        i = 0
        while True:
            await meter.consume(sys.argv[3], "call_ms", 10, event_id=f"e{i}")
            i += 1
            if i % 7 == 0:
                await meter.flush(batch=3)
            if i == 40:
                print("ready", flush=True)

    asyncio.run(main())
""")


async def test_killing_the_app_mid_stream_loses_no_recorded_usage(redis_server, db_url):
    """On a stream of its own: a flusher left by another test on the session's Redis once drained
    its events into that test's ledger (3490 of 3500 written here, the stream empty)."""
    await upgrade(db_url)
    stream = f"usage:events:test-{uuid.uuid4().hex[:8]}"
    meter = UsageMeter(redis_server.url, db_url, stream=stream)
    t = tenant()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, redis_server.url, db_url, t, stream, stdout=asyncio.subprocess.PIPE, cwd=os.getcwd()
    )
    assert (await asyncio.wait_for(proc.stdout.readline(), 60)).strip() == b"ready"
    await asyncio.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)  # mid-consume or mid-flush: whatever it was doing
    await proc.wait()
    counted = await meter.used(t, "call_ms")
    assert counted >= 400
    await meter.flush()  # the restarted app picks up what the dead one had not written
    # What is left in the stream and the dead letters would say where an event went.
    totals = await meter.ledger_totals(t)
    pending = await meter.redis.xpending(stream, GROUP)
    assert totals == {"call_ms": counted}, (totals, counted, await meter.backlog(), pending, await meter.dead_letters())
    await meter.flush()
    assert await meter.ledger_totals(t) == {"call_ms": counted}
    await meter.close()
