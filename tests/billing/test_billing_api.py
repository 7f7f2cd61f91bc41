"""The billing app over HTTP: sign-up, sessions, API keys per tenant, checkout, the webhook route."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import prometheus_client
import pytest
import stripe
from fastapi.routing import APIRoute

from accounts.login_throttle import LoginThrottle
from accounts.service import AccountService
from billing.app import PUBLIC_ROUTES, app
from billing.dependencies import BillingServices, bind, get_services
from billing.plans import load_plans
from billing.stripe_billing import StripeBilling, StripeConfig
from billing.subscriptions import SubscriptionStore
from infra.database import upgrade
from infra.settings import get_settings
from privacy.policy import load_policy
from tests.fake_stripe import API_KEY

RETURN = "https://console.example.ru/console/billing"

SECRET = "whsec_api_test"
CONSENT = {"accept_privacy_policy": True, "privacy_policy_version": str(load_policy()["version"])}


@pytest.fixture
async def client(db_url, fake_stripe, monkeypatch):
    monkeypatch.setenv("SECRETARY_JWT_SECRET", "billing-test-jwt-secret-0123456789abcdef")
    monkeypatch.setenv("SECRETARY_ADMIN_TOKEN", "operator-token-0123456789")
    get_settings.cache_clear()
    await upgrade(db_url)
    plans, store = load_plans(), SubscriptionStore(db_url)
    bind(
        BillingServices(
            AccountService(db_url),
            plans,
            store,
            StripeBilling(
                StripeConfig(API_KEY, SECRET, api_base=fake_stripe.base_url, success_url=RETURN, cancel_url=RETURN),
                plans,
                store,
            ),
            login_throttle=LoginThrottle("3/minute"),
        )
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c
    bind(None)
    get_settings.cache_clear()


async def signup(client, name="Clinic") -> tuple[str, dict]:
    r = await client.post(
        "/auth/signup",
        json={
            "business_name": name,
            "email": f"{uuid.uuid4().hex[:8]}@x.ru",
            "password": "a long enough password",
            **CONSENT,
        },
    )
    assert r.status_code == 201, r.text
    body = r.json()
    return body["tenant_id"], {"Authorization": f"Bearer {body['token']}"}


def routes() -> list[tuple[str, str]]:
    return [(m, r.path) for r in app.routes if isinstance(r, APIRoute) for m in r.methods - {"HEAD", "OPTIONS"}]


@pytest.mark.parametrize(("method", "path"), [r for r in routes() if r not in PUBLIC_ROUTES])
async def test_every_private_route_needs_credentials(client, method, path):
    r = await client.request(method, path.replace("{key_id}", "k1"), json={})
    assert r.status_code == 401, (method, path, r.text)


async def test_signup_starts_a_trial_and_login_gives_a_session(client):
    tenant, auth = await signup(client)
    sub = (await client.get("/subscription", headers=auth)).json()
    assert (sub["tenant_id"], sub["plan"], sub["status"]) == (tenant, "basic", "trial")
    plans = (await client.get("/plans")).json()
    assert [p["price_rub"] for p in plans["items"]] == [990, 2990, 9990] and plans["items"][2]["minutes"] is None
    r = await client.post("/auth/login", json={"email": "nobody@x.ru", "password": "whatever-password"})
    assert r.status_code == 401
    operator = {"Authorization": "Bearer operator-token-0123456789"}
    assert (await client.get("/subscription", headers=operator)).status_code == 403  # no tenant


async def test_failed_sign_ins_are_throttled_per_account_even_with_the_right_password_after(client):
    email = f"{uuid.uuid4().hex[:8]}@x.ru"
    other = f"{uuid.uuid4().hex[:8]}@x.ru"
    for who in (email, other):
        body = {"business_name": "B", "email": who, "password": "the right password", **CONSENT}
        assert (await client.post("/auth/signup", json=body)).status_code == 201
    right = {"email": email, "password": "the right password"}
    assert (await client.post("/auth/login", json={**right, "password": "guess-1"})).status_code == 401
    assert (await client.post("/auth/login", json=right)).status_code == 200  # a success clears the count
    for i in range(3):
        r = await client.post("/auth/login", json={**right, "password": f"guess-{i}"})
        assert r.status_code == 401
    r = await client.post("/auth/login", json=right)
    assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_attempts"
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert (await client.post("/auth/login", json={**right, "email": email.upper()})).status_code == 429
    assert (await client.post("/auth/login", json={"email": other, "password": "the right password"})).status_code == 200


async def test_argon2_runs_off_the_event_loop(client, monkeypatch):
    import asyncio

    import accounts.service as service

    threads_with_a_loop = []
    real_hash, real_verify = service.hash_password, service.verify_password

    def on_loop() -> bool:
        try:
            asyncio.get_running_loop()
            return True
        except RuntimeError:
            return False

    def hash_password(password):
        threads_with_a_loop.append(on_loop())
        return real_hash(password)

    def verify_password(stored, password):
        threads_with_a_loop.append(on_loop())
        return real_verify(stored, password)

    monkeypatch.setattr(service, "hash_password", hash_password)
    monkeypatch.setattr(service, "verify_password", verify_password)
    email = f"{uuid.uuid4().hex[:8]}@x.ru"
    body = {"business_name": "B", "email": email, "password": "the right password", **CONSENT}
    assert (await client.post("/auth/signup", json=body)).status_code == 201
    assert (await client.post("/auth/login", json={"email": email, "password": "the right password"})).status_code == 200
    assert (await client.post("/auth/login", json={"email": "no@x.ru", "password": "x"})).status_code == 401
    assert len(threads_with_a_loop) == 3 and not any(threads_with_a_loop)


async def test_api_keys_belong_to_their_tenant(client):
    _, auth_a = await signup(client, "A")
    _, auth_b = await signup(client, "B")
    made = (await client.post("/api-keys", json={"name": "line 1"}, headers=auth_a)).json()
    assert made["key"].startswith("sk_")
    listed = (await client.get("/api-keys", headers=auth_a)).json()["items"]
    assert [k["id"] for k in listed] == [made["id"]] and "key" not in listed[0]
    assert (await client.get("/api-keys", headers=auth_b)).json()["items"] == []
    assert (await client.delete(f"/api-keys/{made['id']}", headers=auth_b)).status_code == 404
    assert (await client.delete(f"/api-keys/{made['id']}", headers=auth_a)).status_code == 204


async def test_the_yookassa_routes(client, db_url):
    from billing.dependencies import get_services
    from billing.yookassa_billing import YooKassaBilling, YooKassaConfig
    from tests.fake_yookassa import SECRET as YK_SECRET
    from tests.fake_yookassa import SHOP_ID, FakeYooKassa

    yk_fake = FakeYooKassa().start()
    try:
        services = get_services()
        # httpx's test transport connects from 127.0.0.1: trust it here, as a proxy address would be.
        services.yookassa = YooKassaBilling(
            YooKassaConfig(SHOP_ID, YK_SECRET, yk_fake.api_url, RETURN, trusted_networks=("127.0.0.0/8",)),
            services.plans,
            services.subscriptions,
        )
        _, auth = await signup(client)
        r = await client.post("/checkout/yookassa", json={"plan": "basic", "attempt_key": "k1"}, headers=auth)
        assert r.status_code == 200 and r.json()["url"].startswith("https://yoomoney.test/")
        pid = list(yk_fake.payments)[-1]
        yk_fake.settle(pid, "succeeded")
        note = {"type": "notification", "event": "payment.succeeded", "object": {"id": pid}}
        assert (await client.post("/webhooks/yookassa", json=note)).json()["outcome"] == "processed"
        assert (await client.get("/subscription", headers=auth)).json()["status"] == "active"
        assert (await client.post("/webhooks/yookassa", content=b"{")).status_code == 400
        services.yookassa = YooKassaBilling(
            YooKassaConfig(SHOP_ID, YK_SECRET, yk_fake.api_url, RETURN), services.plans, services.subscriptions
        )
        assert (await client.post("/webhooks/yookassa", json=note)).status_code == 403  # not YooKassa's address
    finally:
        yk_fake.stop()


async def test_checkout_and_the_webhook_route(client, fake_stripe):
    tenant, auth = await signup(client)
    r = await client.post("/checkout/stripe", json={"plan": "pro", "attempt_key": "a1"}, headers=auth)
    assert r.status_code == 200 and r.json()["url"].startswith("https://checkout.stripe.test/")
    bad = await client.post("/checkout/stripe", json={"plan": "gold", "attempt_key": "a1"}, headers=auth)
    assert bad.status_code == 400
    fake_stripe.subscription("sub_http" + tenant, tenant, "active")
    raw = json.dumps(
        {
            "id": "evt_http" + tenant,
            "object": "event",
            "type": "customer.subscription.updated",
            "created": int(time.time()),
            "data": {"object": {"id": "sub_http" + tenant}},
        }
    ).encode()
    header = stripe.WebhookSignature.generate_signature_header(raw.decode(), SECRET, timestamp=int(time.time()))

    def events(event: str, outcome: str) -> float:
        labels = {"provider": "stripe", "event": event, "outcome": outcome}
        return prometheus_client.REGISTRY.get_sample_value("secretary_payment_events_total", labels) or 0

    rejected, processed = events("unverified", "rejected"), events("customer.subscription.updated", "processed")
    forged = await client.post("/webhooks/stripe", content=raw + b" ", headers={"Stripe-Signature": header})
    assert forged.status_code == 400 and forged.json()["error"]["code"] == "invalid_signature"
    ok = await client.post("/webhooks/stripe", content=raw, headers={"Stripe-Signature": header})
    assert ok.json() == {"received": True, "outcome": "processed"}
    # The alert on payment webhooks watches these (cluster/prometheus/alerts.yml).
    assert (events("unverified", "rejected"), events("customer.subscription.updated", "processed")) == (
        rejected + 1,
        processed + 1,
    )
    assert (await client.get("/subscription", headers=auth)).json()["status"] == "active"


async def test_cancel_tells_stripe_and_keeps_the_plan_to_the_period_end(client, fake_stripe):
    tenant, auth = await signup(client)
    r = await client.post("/subscription/cancel", headers=auth)
    assert r.status_code == 409 and r.json()["error"]["code"] == "nothing_to_cancel"  # a trial ends by itself
    sid = "sub_cancel" + tenant
    fake_stripe.subscription(sid, tenant, "active")
    state = get_services().stripe._subscription_state(sid, tenant)
    await get_services().subscriptions.apply_event("stripe", "evt_c" + tenant, "customer.subscription.created", state)

    r = await client.post("/subscription/cancel", headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "active" and r.json()["cancel_at_period_end"] is True
    assert fake_stripe.subscriptions[sid]["cancel_at_period_end"] is True
    assert ("POST", f"/v1/subscriptions/{sid}", f"cancel:{sid}") in fake_stripe.requests
    assert (await client.post("/subscription/cancel", headers=auth)).status_code == 200  # again: the same answer
    # Stripe's next word on the subscription keeps the cancellation (it is on Stripe's object too).
    state = get_services().stripe._subscription_state(sid, tenant)
    await get_services().subscriptions.apply_event("stripe", "evt_u" + tenant, "customer.subscription.updated", state)
    assert (await client.get("/subscription", headers=auth)).json()["cancel_at_period_end"] is True
    _, other = await signup(client)
    assert (await client.post("/subscription/cancel", headers=other)).status_code == 409  # only one's own


async def test_privacy_routes(client):
    policy = (await client.get("/privacy-policy", params={"language": "en"})).json()
    assert policy["version"] and "152-FZ" in policy["text"]
    assert (await client.get("/privacy-policy", params={"language": "de"})).status_code == 404
    _, auth = await signup(client)
    r = await client.post(
        "/privacy/consents",
        headers=auth,
        json={"number": "+79161234567", "kind": "call_recording", "granted": True, "text_version": policy["version"]},
    )
    assert r.status_code == 201
    got = (await client.get("/privacy/consents", params={"number": "+79161234567"}, headers=auth)).json()
    assert [c["kind"] for c in got["items"]] == ["call_recording"]
    bad = await client.post(
        "/privacy/consents",
        headers=auth,
        json={"number": "+7916;ATH", "kind": "call_recording", "granted": True, "text_version": "x"},
    )
    assert bad.status_code == 400
    erased = (await client.post("/privacy/erasure", json={"number": "+79161234567"}, headers=auth)).json()
    assert erased["erased"]["consents"] == 1
    assert (await client.get("/privacy/audit", headers=auth)).json()["items"][0]["action"] == "erasure"
    # The number as people write it is erased as the same caller.
    await client.post(
        "/privacy/consents",
        headers=auth,
        json={"number": "+79161234567", "kind": "call_recording", "granted": False, "text_version": "v"},
    )
    again = await client.post("/privacy/erasure", json={"number": "8 (916) 123-45-67"}, headers=auth)
    assert again.status_code == 200 and again.json()["erased"]["consents"] == 1
    # The retention period: the default until the tenant chooses, in range, and only its own.
    assert (await client.get("/privacy/retention", headers=auth)).json() == {"days": 365, "default": True}
    assert (await client.put("/privacy/retention", json={"days": 30}, headers=auth)).status_code == 200
    assert (await client.get("/privacy/retention", headers=auth)).json() == {"days": 30, "default": False}
    for days in (0, 4000, "x"):
        assert (await client.put("/privacy/retention", json={"days": days}, headers=auth)).status_code == 400
    _, other = await signup(client, "Other")
    assert (await client.get("/privacy/retention", headers=other)).json()["default"] is True


async def test_a_tenant_sees_only_its_own_invoices(client):
    from billing.dependencies import get_services
    from billing.subscriptions import Invoice

    (a, a_headers), (_, b_headers) = await signup(client, "A"), await signup(client, "B")
    inv = Invoice(a, "stripe", "in_" + a[:8], 99000, "RUB", "paid", "https://pay.test/x")
    await get_services().subscriptions.apply_event("stripe", "evt_" + a, "invoice.paid", None, inv)
    mine = (await client.get("/invoices", headers=a_headers)).json()["items"]
    assert [(i["id"], i["amount_minor"], i["status"]) for i in mine] == [(inv.id, 99000, "paid")]
    assert (await client.get(f"/invoices/{inv.id}", headers=a_headers)).json()["url"] == "https://pay.test/x"
    assert (await client.get("/invoices", headers=b_headers)).json()["items"] == []
    assert (await client.get(f"/invoices/{inv.id}", headers=b_headers)).status_code == 404


async def test_usage_shows_this_months_use_against_the_plan(client, redis_server):
    from billing.dependencies import get_services
    from billing.gate import UsageGate
    from billing.metering import UsageMeter

    services = get_services()
    assert (await client.get("/usage", headers=(await signup(client))[1])).status_code == 503  # metering off
    gate = UsageGate(UsageMeter(redis_server.url, services.subscriptions.url), services.plans, services.subscriptions)
    services.gate = gate
    try:
        tenant, headers = await signup(client)
        await gate.record(tenant, "call_ms", 90_000, "call-1")
        body = (await client.get("/usage", headers=headers)).json()
        assert body["plan"] == "basic" and body["metrics"]["call_ms"] == {"used": 90_000, "limit": 6_000_000}
        assert body["metrics"]["finetunes"] == {"used": 0, "limit": 0}
    finally:
        services.gate = None
        await gate.close()
