"""The Stripe webhook with real signatures, the real SDK against a local fake_stripe Stripe, a real database."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
import stripe

from billing.plans import load_plans
from billing.stripe_billing import StripeBilling, StripeConfig, WebhookRejected
from billing.subscriptions import SubscriptionStore
from infra.database import upgrade
from tests.fake_stripe import API_KEY

SECRET = "whsec_test_secret"
SUCCESS_URL = "https://console.example.ru/console/billing"


@pytest.fixture
async def billing(fake_stripe, db_url):
    await upgrade(db_url)
    store = SubscriptionStore(db_url)
    config = StripeConfig(
        API_KEY, SECRET, api_base=fake_stripe.base_url, success_url=SUCCESS_URL, cancel_url=SUCCESS_URL + "?cancel=1"
    )
    return StripeBilling(config, load_plans(), store)


def event(kind: str, obj: dict, event_id: str | None = None) -> bytes:
    body = {
        "id": event_id or f"evt_{uuid.uuid4().hex[:16]}",
        "object": "event",
        "type": kind,
        "api_version": stripe.api_version,
        "created": int(time.time()),
        "data": {"object": obj},
    }
    return json.dumps(body, separators=(",", ":")).encode()


def sign(raw: bytes, secret: str = SECRET, at: int | None = None) -> str:
    return stripe.WebhookSignature.generate_signature_header(raw.decode(), secret, timestamp=at or int(time.time()))


def tenant() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


async def test_checkout_completed_activates_the_tenants_plan(billing, fake_stripe):
    t = tenant()
    fake_stripe.subscription("sub_1" + t, t, "active")
    fake_stripe.sessions["cs_1" + t] = {
        "id": "cs_1" + t,
        "object": "checkout.session",
        "subscription": "sub_1" + t,
        "client_reference_id": t,
    }
    raw = event("checkout.session.completed", {"id": "cs_1" + t, "object": "checkout.session"})
    assert await billing.handle_webhook(raw, sign(raw)) == "processed"
    sub = await billing.store.get(t)
    assert (sub.plan, sub.status, sub.provider_ref) == ("pro", "active", "sub_1" + t)


@pytest.mark.parametrize("forgery", ["tampered", "stale", "wrong_secret", "reserialised", "no_header", "garbage"])
async def test_forged_notifications_are_refused_and_change_nothing(billing, fake_stripe, forgery):
    t = tenant()
    fake_stripe.subscription("sub_f" + t, t, "active")
    raw = event("customer.subscription.updated", {"id": "sub_f" + t, "object": "subscription"})
    header = sign(raw)
    if forgery == "tampered":
        raw = raw.replace(b'"type":"customer.subscription.updated"', b'"type":"customer.subscription.deleted"')
    elif forgery == "stale":
        header = sign(raw, at=int(time.time()) - 3600)
    elif forgery == "wrong_secret":
        header = sign(raw, secret="whsec_someone_else")
    elif forgery == "reserialised":
        raw = json.dumps(json.loads(raw), indent=2).encode()  # same JSON, other bytes
    elif forgery == "no_header":
        header = None
    else:
        raw, header = b"not json", sign(b"not json")
    with pytest.raises(WebhookRejected):
        await billing.handle_webhook(raw, header)
    assert await billing.store.get(t) is None


async def test_five_concurrent_duplicates_have_exactly_one_effect(billing, fake_stripe):
    t = tenant()
    fake_stripe.subscription("sub_d" + t, t, "active")
    raw = event("customer.subscription.updated", {"id": "sub_d" + t, "object": "subscription"})
    header = sign(raw)
    outcomes = await asyncio.gather(*(billing.handle_webhook(raw, header) for _ in range(5)))
    assert sorted(outcomes) == ["duplicate"] * 4 + ["processed"]
    assert (await billing.store.get(t)).status == "active"


async def test_out_of_order_events_converge_on_stripes_current_state(billing, fake_stripe):
    t = tenant()
    sid = "sub_o" + t
    # Stripe's truth now: the renewal was paid after a failure. The failure's event arrives last.
    fake_stripe.subscription(sid, t, "active")
    fake_stripe.invoices["in_ok" + t] = {
        "id": "in_ok" + t,
        "object": "invoice",
        "parent": {"type": "subscription_details", "subscription_details": {"subscription": sid}},
        "status": "paid",
        "amount_paid": 299000,
        "amount_due": 299000,
        "currency": "rub",
        "hosted_invoice_url": "https://pay.stripe.test/in_ok",
    }
    fake_stripe.invoices["in_bad" + t] = {
        "id": "in_bad" + t,
        "object": "invoice",
        "parent": {"type": "subscription_details", "subscription_details": {"subscription": sid}},
        "status": "open",
        "amount_paid": 0,
        "amount_due": 299000,
        "currency": "rub",
    }
    paid = event("invoice.paid", {"id": "in_ok" + t, "object": "invoice", "amount_paid": 1})  # the claim is ignored
    failed = event("invoice.payment_failed", {"id": "in_bad" + t, "object": "invoice"})
    assert await billing.handle_webhook(paid, sign(paid)) == "processed"
    assert await billing.handle_webhook(failed, sign(failed)) == "processed"
    assert (await billing.store.get(t)).status == "active"  # not past_due: the late event was re-read
    invoices = {i.provider_ref: i for i in await billing.store.invoices(t)}
    assert (invoices["in_ok" + t].status, invoices["in_ok" + t].amount_minor, invoices["in_ok" + t].currency) == (
        "paid",
        299000,
        "RUB",
    )
    assert invoices["in_ok" + t].url == "https://pay.stripe.test/in_ok"
    assert (invoices["in_bad" + t].status, invoices["in_bad" + t].amount_minor) == ("failed", 299000)
    assert await billing.store.invoices("someone-else") == []
    # Then Stripe cancels it; the deletion event moves it on.
    fake_stripe.subscription(sid, t, "canceled")
    deleted = event("customer.subscription.deleted", {"id": sid, "object": "subscription"})
    assert await billing.handle_webhook(deleted, sign(deleted)) == "processed"
    assert (await billing.store.get(t)).status == "cancelled"


async def test_a_failed_payment_makes_the_subscription_past_due(billing, fake_stripe):
    t = tenant()
    fake_stripe.subscription("sub_p" + t, t, "past_due", price="price_basic_monthly")
    fake_stripe.invoices["in_p" + t] = {
        "id": "in_p" + t,
        "object": "invoice",
        "parent": {"subscription_details": {"subscription": "sub_p" + t}},
    }
    raw = event("invoice.payment_failed", {"id": "in_p" + t, "object": "invoice"})
    assert await billing.handle_webhook(raw, sign(raw)) == "processed"
    sub = await billing.store.get(t)
    assert (sub.plan, sub.status) == ("basic", "past_due")


async def test_unhandled_event_types_are_acknowledged_without_effect(billing):
    raw = event("charge.refunded", {"id": "ch_1", "object": "charge"})
    assert await billing.handle_webhook(raw, sign(raw)) == "ignored"


async def test_checkout_sessions_use_deterministic_idempotency_keys(billing, fake_stripe):
    t = tenant()
    first = await billing.create_checkout(t, "pro", attempt_key="a1")
    again = await billing.create_checkout(t, "pro", attempt_key="a1")
    other = await billing.create_checkout(t, "pro", attempt_key="a2")
    assert first == again != other
    keys = [k for m, p, k in fake_stripe.requests if m == "POST" and p == "/v1/checkout/sessions" and t in (k or "")]
    assert keys == [f"checkout:{t}:pro:a1"] * 2 + [f"checkout:{t}:pro:a2"]
    with pytest.raises(KeyError):
        await billing.create_checkout(t, "platinum", attempt_key="x")
    session = next(v for v in fake_stripe.sessions.values() if v.get("url") == first)
    assert session["success_url"] == SUCCESS_URL  # from settings, never a placeholder host


def test_stripe_refuses_to_start_without_return_urls():
    with pytest.raises(ValueError, match="success and cancel URLs"):
        StripeBilling(StripeConfig(API_KEY, SECRET), load_plans(), SubscriptionStore("sqlite+aiosqlite://"))


async def test_the_period_end_is_read_from_the_items_as_the_pinned_api_version_returns_it(billing, fake_stripe):
    t = tenant()
    obj = fake_stripe.subscription("sub_e" + t, t, "active")
    assert "current_period_end" not in obj  # basil and later: only on the items
    raw = event("customer.subscription.updated", {"id": "sub_e" + t, "object": "subscription"})
    assert await billing.handle_webhook(raw, sign(raw)) == "processed"
    sub = await billing.store.get(t)
    assert sub.current_period_end is not None
    assert int(sub.current_period_end.timestamp()) == obj["items"]["data"][0]["current_period_end"]


async def test_an_incomplete_subscription_is_stored_as_incomplete_not_as_past_due(billing, fake_stripe):
    t = tenant()
    fake_stripe.subscription("sub_i" + t, t, "incomplete")
    raw = event("customer.subscription.updated", {"id": "sub_i" + t, "object": "subscription"})
    assert await billing.handle_webhook(raw, sign(raw)) == "processed"
    assert (await billing.store.get(t)).status == "incomplete"


async def test_an_event_for_an_older_subscription_does_not_overwrite_the_current_one(billing, fake_stripe):
    t = tenant()
    now = int(time.time())
    fake_stripe.subscription("sub_old" + t, t, "canceled", created=now - 90 * 86400)
    fake_stripe.subscription("sub_new" + t, t, "active", price="price_enterprise_monthly", created=now - 60)
    new = event("customer.subscription.updated", {"id": "sub_new" + t, "object": "subscription"})
    old = event("customer.subscription.deleted", {"id": "sub_old" + t, "object": "subscription"})
    assert await billing.handle_webhook(new, sign(new)) == "processed"
    assert await billing.handle_webhook(old, sign(old)) == "processed"  # recorded, acknowledged
    sub = await billing.store.get(t)
    assert (sub.status, sub.provider_ref) == ("active", "sub_new" + t)
    # A newer subscription still replaces an older one.
    fake_stripe.subscription("sub_newer" + t, t, "active", created=now)
    newer = event("customer.subscription.updated", {"id": "sub_newer" + t, "object": "subscription"})
    assert await billing.handle_webhook(newer, sign(newer)) == "processed"
    assert (await billing.store.get(t)).provider_ref == "sub_newer" + t
