"""The usage gate on a real redis-server, a real database (SQLite and PostgreSQL) and a local SMTP server."""

from __future__ import annotations

import asyncio
import uuid

import prometheus_client
import pytest

from accounts.service import AccountService
from billing.gate import SubscriptionRequired, UsageGate, UsageLimitExceeded
from billing.metering import UsageMeter, period_of
from billing.notifications import SmtpConfig, UsageNotifier, reached
from billing.plans import load_plans
from billing.subscriptions import SubscriptionState, SubscriptionStore
from infra.database import upgrade
from tests.smtp_sink import SmtpSink


@pytest.fixture(scope="module")
def smtp():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
async def rig(redis_server, db_url, smtp):
    await upgrade(db_url)
    meter = UsageMeter(redis_server.url, db_url)
    accounts = AccountService(db_url)
    notifier = UsageNotifier(meter.redis, accounts.contacts, SmtpConfig("127.0.0.1", smtp.port), "https://x.test/up")
    gate = UsageGate(meter, load_plans(), SubscriptionStore(db_url), notifier, "https://x.test/up", plan_ttl_s=0)
    yield gate, accounts
    await gate.close()


async def subscribed(gate: UsageGate, accounts: AccountService, plan: str = "basic", status: str = "active") -> str:
    tenant, _ = await accounts.create_tenant("Clinic", f"owner-{uuid.uuid4().hex[:8]}@clinic.test", "pw-123456789")
    await gate.subscriptions.apply_event(
        "stripe", uuid.uuid4().hex, "test", SubscriptionState(tenant, plan, status, "stripe", "sub_" + tenant, None)
    )
    return tenant


async def test_a_request_past_the_limit_is_refused_with_what_was_used(rig):
    gate, accounts = rig
    t = await subscribed(gate, accounts)
    limit = 2_000_000  # basic: llm_tokens
    await gate.check(t, "llm_tokens")
    await gate.record(t, "llm_tokens", limit - 1, "r1")
    await gate.check(t, "llm_tokens")  # one token left: still allowed to ask
    await gate.record(t, "llm_tokens", 500, "r2")  # a reply already generated is counted over the limit
    with pytest.raises(UsageLimitExceeded) as err:
        await gate.check(t, "llm_tokens")
    assert (err.value.metric, err.value.limit, err.value.used) == ("llm_tokens", limit, limit + 499)
    assert err.value.upgrade_url == "https://x.test/up"


async def test_consume_is_all_or_nothing_and_concurrent_callers_cannot_pass_the_limit(rig):
    gate, accounts = rig
    t = await subscribed(gate, accounts)  # basic: 300 transcription minutes
    limit = 300 * 60_000
    await gate.consume(t, "stt_ms", limit - 50_000, "big")
    results = await asyncio.gather(*(gate.consume(t, "stt_ms", 10_000, f"c{i}") for i in range(12)), return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 5
    assert all(isinstance(r, UsageLimitExceeded) for r in results if isinstance(r, Exception))
    assert await gate.meter.used(t, "stt_ms") == limit


async def test_the_same_event_counts_once(rig):
    gate, accounts = rig
    t = await subscribed(gate, accounts)
    for _ in range(3):
        await gate.record(t, "tts_ms", 1234, "same-request")
    assert await gate.meter.used(t, "tts_ms") == 1234


@pytest.mark.parametrize("status", ["suspended", "cancelled"])
async def test_no_serving_subscription_is_refused_but_delivered_work_is_still_counted(rig, status):
    gate, accounts = rig
    t = await subscribed(gate, accounts, status=status)
    with pytest.raises(SubscriptionRequired, match=status):
        await gate.check(t, "llm_tokens")
    with pytest.raises(SubscriptionRequired):
        await gate.check("no-such-tenant", "call_ms")
    await gate.record(t, "llm_tokens", 10, "after-suspension")
    assert await gate.meter.used(t, "llm_tokens") == 10


async def test_past_due_is_a_grace_period_and_trial_uses_its_plan(rig):
    gate, accounts = rig
    for status in ("trial", "past_due"):
        t = await subscribed(gate, accounts, status=status)
        await gate.check(t, "call_ms")
        assert (await gate.plan_for(t)).id == "basic"


async def test_unlimited_plan_counts_but_never_refuses(rig):
    gate, accounts = rig
    t = await subscribed(gate, accounts, plan="enterprise")
    await gate.consume(t, "call_ms", 10**9, "huge")
    await gate.check(t, "call_ms")
    assert (await gate.usage(t))["metrics"]["call_ms"] == {"used": 10**9, "limit": None}


async def test_a_call_allowance_ends_the_call_at_the_limit_and_counts_its_true_length(rig):
    gate, accounts = rig
    t = await subscribed(gate, accounts)  # basic: 100 minutes
    await gate.record(t, "call_ms", 100 * 60_000 - 20_000, "earlier-calls")  # 20 s left
    allowance = gate.allowance(t, "call-1", slice_s=15)
    assert await allowance.admit()
    assert await allowance.extend(15.0)  # 15 s counted, 5 s left
    assert not await allowance.extend(30.0)  # the next 15 s do not fit
    await allowance.settle(33.4)  # the notice took a few seconds more
    await allowance.settle(40.0)  # settling twice counts once
    assert await gate.meter.used(t, "call_ms") == 100 * 60_000 - 20_000 + 33_400
    assert not await gate.allowance(t, "call-2").admit()  # the next call hears the notice at once


async def test_voices_and_fine_tunes_follow_the_plan(rig):
    gate, accounts = rig
    basic, pro = await subscribed(gate, accounts), await subscribed(gate, accounts, plan="pro")
    await gate.check_voices(basic, {"anna", "boris"})
    with pytest.raises(UsageLimitExceeded) as err:
        await gate.check_voices(basic, {"anna", "boris", "irina"})
    assert (err.value.metric, err.value.limit, err.value.used) == ("voices", 2, 3)
    with pytest.raises(UsageLimitExceeded):
        await gate.reserve_finetune(basic, "job-1")  # basic: no fine-tuning
    await gate.reserve_finetune(pro, "job-1")
    await gate.reserve_finetune(pro, "job-1")  # a retried submission is the same job
    with pytest.raises(UsageLimitExceeded):
        await gate.reserve_finetune(pro, "job-2")  # pro: one a month


async def test_owners_get_one_email_per_threshold_per_period(rig, smtp):
    gate, accounts = rig
    t = await subscribed(gate, accounts)
    owner = (await accounts.contacts(t))[0]
    await accounts.add_user(t, f"admin-{t[:6]}@clinic.test", "pw-123456789", "admin")
    await accounts.add_user(t, f"viewer-{t[:6]}@clinic.test", "pw-123456789", "viewer")
    limit = 100 * 60_000
    await gate.record(t, "call_ms", int(limit * 0.5), "a")
    await gate.notifier.drain()
    assert smtp.to(owner) == []
    # Many concurrent consumptions past 80 %: one e-mail.
    await asyncio.gather(*(gate.record(t, "call_ms", int(limit * 0.05), f"b{i}") for i in range(7)))
    await gate.notifier.drain()
    mails = smtp.to(owner)
    assert len(mails) == 1 and "80%" in mails[0]["Subject"]
    assert sorted(mails[0]["To"].split(", ")) == sorted([owner, f"admin-{t[:6]}@clinic.test"])  # not the viewer
    assert "Израсходовано" in mails[0]["Subject"] and "https://x.test/up" in mails[0].get_content()
    await gate.record(t, "call_ms", int(limit * 0.2), "c")  # past 100 %
    await gate.record(t, "call_ms", 1000, "d")
    await gate.notifier.drain()
    subjects = [m["Subject"] for m in smtp.to(owner)]
    assert len(subjects) == 2 and "used up" in subjects[1]
    claims = await gate.meter.redis.hgetall(f"usage:{{{t}}}:{period_of()}:notices")
    # Each claim holds the usage its sender saw: whichever concurrent consumer claimed first, it was
    # one that had crossed the threshold (the order of concurrent claims is not defined).
    assert set(claims) == {"call_ms:80", "call_ms:100"}
    assert int(limit * 0.8) <= int(claims["call_ms:80"]) <= int(limit * 0.85)
    assert int(claims["call_ms:100"]) == int(limit * 1.05)


async def test_a_failed_email_is_retried_by_the_next_consumption(rig, smtp, redis_server):
    gate, accounts = rig
    t = await subscribed(gate, accounts)
    owner = (await accounts.contacts(t))[0]
    broken = UsageNotifier(gate.meter.redis, accounts.contacts, SmtpConfig("127.0.0.1", 1), "u")  # nothing listens
    assert not await broken.notify(t, period_of(), "llm_tokens", 80, 1_700_000, 2_000_000)
    working = UsageNotifier(gate.meter.redis, accounts.contacts, SmtpConfig("127.0.0.1", smtp.port), "u")
    assert await working.notify(t, period_of(), "llm_tokens", 80, 1_700_001, 2_000_000)
    assert not await working.notify(t, period_of(), "llm_tokens", 80, 1_700_002, 2_000_000)
    assert len(smtp.to(owner)) == 1


def test_thresholds():
    assert reached(79, 100) == [] and reached(80, 100) == [80] and reached(100, 100) == [80, 100]


async def test_usage_is_a_metric_per_plan_and_the_backlog_drains(rig):
    gate, accounts = rig

    def used(plan: str) -> float:
        labels = {"plan": plan, "metric": "tts_ms"}
        return prometheus_client.REGISTRY.get_sample_value("secretary_usage_units_total", labels) or 0

    t = await subscribed(gate, accounts, plan="pro")
    before = used("pro")
    await gate.record(t, "tts_ms", 1500, "m1")
    await gate.record(t, "tts_ms", 1500, "m1")  # the same event: counted once, in the ledger and the metric
    await gate.consume(t, "tts_ms", 500, "m2")
    assert used("pro") == before + 2000
    assert await gate.meter.backlog() >= 2  # waiting in Redis for the SQL ledger
    await gate.meter.flush()
    assert await gate.meter.backlog() == 0
