"""YooKassa with the real SDK against a local fake: saved cards, renewals, notifications re-fetched."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from billing.plans import load_plans
from billing.subscriptions import SubscriptionStore
from billing.yookassa_billing import NotificationRejected, YooKassaBilling, YooKassaConfig
from infra.database import upgrade
from tests.fake_yookassa import SECRET, SHOP_ID, FakeYooKassa

RETURN = "https://console.example.ru/console/billing"

YOOKASSA_IP = "185.71.76.10"


@pytest.fixture(scope="module")
def fake():
    server = FakeYooKassa().start()
    yield server
    server.stop()


@pytest.fixture
async def yk(fake, db_url):
    await upgrade(db_url)
    return YooKassaBilling(
        YooKassaConfig(SHOP_ID, SECRET, api_url=fake.api_url, return_url=RETURN), load_plans(), SubscriptionStore(db_url)
    )


def notification(pid: str, event: str = "payment.succeeded") -> dict:
    return {"type": "notification", "event": event, "object": {"id": pid, "status": "succeeded", "paid": True}}


def last_payment(fake) -> str:
    return list(fake.payments)[-1]


async def test_a_paid_first_payment_activates_the_plan_and_saves_the_card(yk, fake):
    t = f"t{uuid.uuid4().hex[:8]}"
    url = await yk.create_payment(t, "pro", "attempt-1")
    assert url.startswith("https://yoomoney.test/checkout/")
    assert await yk.create_payment(t, "pro", "attempt-1") == url  # the same attempt: the same payment
    pid = last_payment(fake)
    fake.settle(pid, "succeeded", saved_method="pm-card-1")
    assert await yk.handle_notification(YOOKASSA_IP, notification(pid)) == "processed"
    sub = await yk.store.get(t)
    assert (sub.plan, sub.status, sub.payment_method_ref) == ("pro", "active", "pm-card-1")
    # Renewal charges the saved card, once per period whatever the retries.
    renewal = await yk.renew(sub, "2026-12")
    assert await yk.renew(sub, "2026-12") == renewal
    assert fake.payments[renewal]["payment_method"]["id"] == "pm-card-1"
    keys = [k for m, p, k in fake.requests if m == "POST" and k and t in k]
    assert keys == [f"yk:{t}:pro:attempt-1"] * 2 + [f"yk-renew:{t}:2026-12"] * 2
    fake.settle(renewal, "canceled")
    assert await yk.handle_notification(YOOKASSA_IP, notification(renewal, "payment.canceled")) == "processed"
    assert (await yk.store.get(t)).status == "past_due"
    invoices = {i.provider_ref: i for i in await yk.store.invoices(t)}
    assert (invoices[pid].status, invoices[pid].amount_minor, invoices[pid].currency) == ("paid", 299000, "RUB")
    assert invoices[renewal].status == "failed"


async def test_a_forged_success_whose_refetch_says_pending_grants_nothing(yk, fake):
    t = f"t{uuid.uuid4().hex[:8]}"
    await yk.create_payment(t, "enterprise", "a")
    pid = last_payment(fake)  # still pending at YooKassa
    assert await yk.handle_notification(YOOKASSA_IP, notification(pid)) == "processed"  # recorded, no effect
    assert await yk.store.get(t) is None and await yk.store.invoices(t) == []


@pytest.mark.parametrize("ip", ["203.0.113.5", "127.0.0.1", "", None, "not-an-ip"])
async def test_notifications_from_outside_yookassas_ranges_are_refused(yk, fake, ip):
    t = f"t{uuid.uuid4().hex[:8]}"
    await yk.create_payment(t, "basic", "a")
    pid = last_payment(fake)
    fake.settle(pid, "succeeded")
    with pytest.raises(NotificationRejected):
        await yk.handle_notification(ip, notification(pid))
    assert await yk.store.get(t) is None


async def test_repeated_notifications_have_one_effect(yk, fake):
    t = f"t{uuid.uuid4().hex[:8]}"
    await yk.create_payment(t, "basic", "a")
    pid = last_payment(fake)
    fake.settle(pid, "succeeded")
    outcomes = await asyncio.gather(*(yk.handle_notification(YOOKASSA_IP, notification(pid)) for _ in range(5)))
    assert sorted(outcomes) == ["duplicate"] * 4 + ["processed"]


@pytest.mark.parametrize(
    "body", [{}, {"type": "notification"}, {"type": "notification", "object": "x"}, {"type": "other", "object": {"id": "p"}}]
)
async def test_malformed_notifications_are_refused(yk, body):
    with pytest.raises(NotificationRejected):
        await yk.handle_notification(YOOKASSA_IP, body)


def test_the_trusted_ranges_are_configurable(fake):
    yk = YooKassaBilling(
        YooKassaConfig(SHOP_ID, SECRET, api_url=fake.api_url, return_url=RETURN, trusted_networks=("10.0.0.0/8",)),
        load_plans(),
        SubscriptionStore(),
    )
    assert yk.trusted("10.1.2.3") and not yk.trusted(YOOKASSA_IP)
