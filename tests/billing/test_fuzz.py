"""The billing app fuzzed from its OpenAPI schema (schemathesis): no input gets a 5xx."""

from __future__ import annotations

import uuid

import pytest

from accounts.service import AccountService
from billing.app import app
from billing.dependencies import BillingServices, bind
from billing.gate import UsageGate
from billing.metering import UsageMeter
from billing.plans import load_plans
from billing.stripe_billing import StripeBilling, StripeConfig
from billing.subscriptions import SubscriptionStore
from billing.yookassa_billing import YooKassaBilling, YooKassaConfig
from infra.auth import issue_session_token
from infra.database import upgrade
from infra.settings import get_settings
from tests.api_fuzz import fuzz
from tests.asgi_server import serving
from tests.fake_stripe import API_KEY
from tests.fake_yookassa import SECRET, SHOP_ID, FakeYooKassa

RETURN = "https://console.example.ru/console/billing"


@pytest.fixture(scope="module")
def fake_yookassa():
    server = FakeYooKassa().start()
    yield server
    server.stop()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_no_generated_request_gets_a_5xx(db_url, fake_stripe, fake_yookassa, redis_server, monkeypatch):
    monkeypatch.setenv("SECRETARY_JWT_SECRET", "billing-fuzz-jwt-secret-0123456789abcdef")
    get_settings.cache_clear()
    await upgrade(db_url)
    plans, store, accounts = load_plans(), SubscriptionStore(db_url), AccountService(db_url)
    gate = UsageGate(UsageMeter(redis_server.url, db_url), plans, store)
    bind(
        BillingServices(
            accounts,
            plans,
            store,
            StripeBilling(
                StripeConfig(API_KEY, "whsec_fuzz", api_base=fake_stripe.base_url, success_url=RETURN, cancel_url=RETURN),
                plans,
                store,
            ),
            YooKassaBilling(YooKassaConfig(SHOP_ID, SECRET, api_url=fake_yookassa.api_url, return_url=RETURN), plans, store),
            gate,
        )
    )
    tenant, owner = await accounts.create_tenant("Fuzz", f"fuzz-{uuid.uuid4().hex[:6]}@x.ru", "a long password")
    await store.start_trial(tenant, "basic", 14)
    token = issue_session_token(owner.id, tenant, "owner")
    try:
        async with serving(app) as base:
            failures, seen = await fuzz(
                app.openapi(),
                base,
                {"Authorization": f"Bearer {token}"},
                max_examples=25,
                valid={"*": {"plan": ["basic", "pro", "enterprise"]}},
            )
    finally:
        bind(None)
        await gate.close()
        get_settings.cache_clear()
    assert not failures, "\n".join(failures)
    assert len(seen) >= 15 and all(sum(c.values()) > 0 for c in seen.values()), seen  # every operation ran
    assert sum(c[200] + c[201] for c in seen.values()) > 20, seen  # and not only into refusals
