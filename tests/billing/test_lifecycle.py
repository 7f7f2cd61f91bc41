"""Billing that ends: trials expire, unpaid periods lapse, YooKassa renews once per period.

Real database (SQLite and PostgreSQL), the real YooKassa SDK against the local fake.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from billing.lifecycle import BillingLifecycle, effective_status
from billing.plans import load_plans
from billing.subscriptions import Subscription, SubscriptionRow, SubscriptionState, SubscriptionStore
from billing.yookassa_billing import YooKassaBilling, YooKassaConfig
from infra.database import transaction, upgrade, utcnow
from tests.fake_yookassa import SECRET, SHOP_ID, FakeYooKassa

YOOKASSA_IP = "185.71.76.10"
GRACE = timedelta(days=3)


@pytest.fixture(scope="module")
def fake():
    server = FakeYooKassa().start()
    yield server
    server.stop()


@pytest.fixture
async def rig(fake, db_url):
    await upgrade(db_url)
    store = SubscriptionStore(db_url)
    yk = YooKassaBilling(
        YooKassaConfig(SHOP_ID, SECRET, api_url=fake.api_url, return_url="https://c.test/console/billing"),
        load_plans(),
        store,
    )
    return store, yk, BillingLifecycle(store, yk, grace=GRACE)


def tenant() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


async def set_end(store: SubscriptionStore, t: str, end: datetime) -> None:
    async with transaction(store.url) as s:
        (await s.get(SubscriptionRow, t)).current_period_end = end


def sub(status: str, end: datetime | None, provider: str | None = "stripe") -> Subscription:
    return Subscription("t", "basic", status, provider, "ref", end, None)


def test_effective_status_ends_trials_and_lapses_periods_after_the_grace():
    now = datetime(2026, 12, 6, 12, tzinfo=UTC)
    assert effective_status(sub("trial", now + timedelta(hours=1)), now, GRACE) == "trial"
    assert effective_status(sub("trial", now - timedelta(seconds=1)), now, GRACE) == "expired"
    assert effective_status(sub("active", now - timedelta(days=2)), now, GRACE) == "active"  # in its grace
    assert effective_status(sub("past_due", now - timedelta(days=3)), now, GRACE) == "suspended"
    assert effective_status(sub("active", None, "operator"), now, GRACE) == "active"  # a grant never lapses
    assert effective_status(sub("cancelled", now - timedelta(days=30)), now, GRACE) == "cancelled"


async def test_the_sweep_writes_down_expired_trials_and_lapsed_periods_once(rig):
    store, _, lifecycle = rig
    trial, paid, fresh, operator = tenant(), tenant(), tenant(), tenant()
    await store.start_trial(trial, "basic", 14)
    await store.start_trial(fresh, "basic", 14)
    await set_end(store, trial, utcnow() - timedelta(days=1))  # a trial 15 days old
    await store.apply_event("stripe", uuid.uuid4().hex, "t", SubscriptionState(paid, "pro", "active", "stripe", "s1", None))
    await set_end(store, paid, utcnow() - GRACE - timedelta(minutes=1))
    await store.grant(operator, "enterprise")
    first, second = await asyncio.gather(lifecycle.sweep(), lifecycle.sweep())  # two replicas at once
    assert sorted(first.expired + second.expired) == [trial]
    assert sorted(first.suspended + second.suspended) == [paid]
    assert (await store.get(trial)).status == "expired" and (await store.get(paid)).status == "suspended"
    assert (await store.get(fresh)).status == "trial" and (await store.get(operator)).status == "active"
    again = await lifecycle.sweep()
    assert again.expired == [] and again.suspended == []


async def first_payment(store, yk, fake, t: str) -> Subscription:
    await yk.create_payment(t, "pro", "a1")
    pid = list(fake.payments)[-1]
    fake.settle(pid, "succeeded", saved_method="pm-" + t)
    assert (
        await yk.handle_notification(
            YOOKASSA_IP, {"type": "notification", "event": "payment.succeeded", "object": {"id": pid}}
        )
        == "processed"
    )
    return await store.get(t)


async def test_renewals_are_charged_once_per_period_and_extend_it_from_its_end(rig, fake):
    store, yk, lifecycle = rig
    t = tenant()
    sub = await first_payment(store, yk, fake, t)
    end = sub.current_period_end
    assert (await lifecycle.sweep()).renewals == {}  # not due yet
    due_at = end - timedelta(hours=12)
    reports = await asyncio.gather(*(lifecycle.sweep(due_at) for _ in range(3)))
    renewals = [r.renewals[t] for r in reports if t in r.renewals]
    assert len(renewals) == 1  # three sweeps, one charge
    assert (await lifecycle.sweep(due_at + timedelta(days=2))).renewals == {}  # and not after a day either
    charges = [p for p in fake.payments.values() if p["metadata"].get("tenant_id") == t and p["metadata"].get("period")]
    assert len(charges) == 1 and charges[0]["payment_method"]["id"] == "pm-" + t
    pid = renewals[0]
    fake.settle(pid)
    note = {"type": "notification", "event": "payment.succeeded", "object": {"id": pid}}
    assert await yk.handle_notification(YOOKASSA_IP, note) == "processed"
    assert await yk.handle_notification(YOOKASSA_IP, note) == "duplicate"
    renewed = await store.get(t)
    assert renewed.status == "active" and renewed.current_period_end == end + timedelta(days=30)
    assert renewed.provider_ref == pid


async def test_a_failed_renewal_is_past_due_then_suspended_after_the_grace(rig, fake):
    store, yk, lifecycle = rig
    t = tenant()
    end = (await first_payment(store, yk, fake, t)).current_period_end
    pid = (await lifecycle.sweep(end - timedelta(hours=1))).renewals[t]
    fake.settle(pid, "canceled")
    note = {"type": "notification", "event": "payment.canceled", "object": {"id": pid}}
    assert await yk.handle_notification(YOOKASSA_IP, note) == "processed"
    failed = await store.get(t)
    assert failed.status == "past_due" and failed.current_period_end == end  # still the paid period
    assert (await lifecycle.sweep(end + timedelta(days=1))).suspended == []  # in its grace
    assert (await lifecycle.sweep(end + GRACE + timedelta(seconds=1))).suspended == [t]
    assert (await store.get(t)).status == "suspended"


async def test_a_renewal_the_provider_refuses_is_released_and_tried_again(rig, fake):
    store, yk, lifecycle = rig
    t = tenant()
    end = (await first_payment(store, yk, fake, t)).current_period_end
    real_url = yk.config.api_url
    from yookassa import Configuration

    Configuration.configure(SHOP_ID, "wrong-secret", api_url=real_url, max_attempts=1)
    try:
        report = await lifecycle.sweep(end - timedelta(hours=1))
    finally:
        Configuration.configure(SHOP_ID, SECRET, api_url=real_url, max_attempts=2, timeout=30)
    assert t in report.renewal_errors and t not in report.renewals
    assert t in (await lifecycle.sweep(end - timedelta(hours=1))).renewals


async def test_a_late_notification_for_an_older_payment_does_not_overwrite_the_renewal(rig, fake):
    store, yk, lifecycle = rig
    t = tenant()
    await yk.create_payment(t, "pro", "abandoned-tab")  # an earlier attempt, paid much later
    older = list(fake.payments)[-1]
    first = await first_payment(store, yk, fake, t)
    pid = (await lifecycle.sweep(first.current_period_end - timedelta(hours=1))).renewals[t]
    fake.settle(pid)
    note = {"type": "notification", "event": "payment.succeeded", "object": {"id": pid}}
    await yk.handle_notification(YOOKASSA_IP, note)
    renewed = await store.get(t)
    fake.settle(older, "succeeded", saved_method="pm-old")
    late = {"type": "notification", "event": "payment.succeeded", "object": {"id": older}}
    assert await yk.handle_notification(YOOKASSA_IP, late) == "processed"  # recorded, its invoice kept
    now = await store.get(t)
    assert (now.provider_ref, now.current_period_end) == (pid, renewed.current_period_end)
    assert older in {i.provider_ref for i in await store.invoices(t)}


async def test_a_cancelled_subscription_serves_its_period_is_never_renewed_then_ends(rig, fake):
    store, yk, lifecycle = rig
    t = tenant()
    sub = await first_payment(store, yk, fake, t)
    end = sub.current_period_end
    cancelled = await store.cancel_at_period_end(t)
    assert cancelled.cancel_at_period_end and cancelled.status == "active"
    charges_before = len(fake.payments)
    report = await lifecycle.sweep(end - timedelta(hours=12))  # when a renewal would be due
    assert report.renewals == {} and len(fake.payments) == charges_before
    assert effective_status(await store.get(t), end - timedelta(seconds=1), GRACE) == "active"  # paid for
    assert effective_status(await store.get(t), end, GRACE) == "cancelled"  # no grace: nothing is owed
    await lifecycle.sweep(end + timedelta(minutes=1))
    assert (await store.get(t)).status == "cancelled"
    # A trial, or what is already over, has nothing to cancel.
    trial = tenant()
    await store.start_trial(trial, "basic", 14)
    assert await store.cancel_at_period_end(trial) is None
    assert await store.cancel_at_period_end(t) is None
