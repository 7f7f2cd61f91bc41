"""The billing app: accounts, API keys, plans, subscriptions, payments (its own Serve application).

Public routes (no credentials): sign-up, sign-in, the plan list, the privacy policy and the
payment providers' webhooks (which prove themselves by signature or by re-fetching). Every other
route needs an owner's or admin's session and acts only within that tenant.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from ray import serve

from accounts.login_throttle import LoginThrottle
from accounts.service import AccountService
from billing.dependencies import BillingServices, bind
from billing.gate import build_gate
from billing.lifecycle import BillingLifecycle
from billing.plans import load_plans
from billing.routes import auth, keys, payments, privacy, team, usage
from billing.subscriptions import SubscriptionStore
from infra.database import upgrade_blocking
from infra.http_app import service_app
from infra.logging import configure_from_settings
from infra.settings import PROJECT_ROOT, Settings, get_settings
from privacy.retention import Retention

PUBLIC_ROUTES = {
    ("POST", "/auth/signup"),
    ("POST", "/auth/login"),
    ("GET", "/plans"),
    ("POST", "/webhooks/stripe"),
    ("POST", "/webhooks/yookassa"),
    ("GET", "/privacy-policy"),
    ("GET", "/healthz"),
}


def create_app() -> FastAPI:
    return service_app(
        "secretary billing",
        "Accounts, API keys, plans, subscriptions and payments.",
        (auth.router, keys.router, payments.router, privacy.router, team.router, usage.router),
    )


app = create_app()


def build_services(args: dict[str, Any]) -> BillingServices:
    settings = get_settings()
    plans = load_plans(PROJECT_ROOT / args.get("plans", "cluster/plans.yaml"))
    store = SubscriptionStore()
    stripe = None
    if settings.stripe_api_key and settings.stripe_webhook_secret:
        from billing.stripe_billing import StripeBilling, StripeConfig

        stripe = StripeBilling(
            StripeConfig(
                settings.stripe_api_key,
                settings.stripe_webhook_secret,
                settings.stripe_api_base,
                success_url=return_url(settings, "success"),
                cancel_url=return_url(settings, "cancelled"),
            ),
            plans,
            store,
        )
    yookassa = None
    if settings.yookassa_shop_id and settings.yookassa_secret_key:
        from billing.yookassa_billing import YOOKASSA_NETWORKS, YooKassaBilling, YooKassaConfig

        networks = tuple(n.strip() for n in (settings.yookassa_networks or "").split(",") if n.strip())
        yookassa = YooKassaBilling(
            YooKassaConfig(
                settings.yookassa_shop_id,
                settings.yookassa_secret_key,
                settings.yookassa_api_url,
                return_url(settings, "return"),
                trusted_networks=networks or YOOKASSA_NETWORKS,
            ),
            plans,
            store,
        )
    lifecycle = BillingLifecycle(store, yookassa, grace=timedelta(days=settings.billing_grace_days))
    return BillingServices(
        AccountService(),
        plans,
        store,
        stripe,
        yookassa,
        build_gate(settings, plans),
        lifecycle,
        settings.billing_sweep_interval_s,
        LoginThrottle(settings.login_attempts, settings.redis_url or None),
        Retention(default_days=settings.retention_days),
    )


def return_url(settings: Settings, outcome: str) -> str:
    """Where a payment page sends the owner back: the console's billing page, on the public address."""
    return f"{settings.public_url.rstrip('/')}/console/billing?checkout={outcome}"


@serve.deployment(name="BillingApi", max_ongoing_requests=64)
@serve.ingress(app)
class BillingApi:
    def __init__(self, args: dict[str, Any] | None = None) -> None:
        configure_from_settings()
        bind(build_services(args or {}))


def build_billing_app(args: dict[str, Any]) -> serve.Application:
    upgrade_blocking()
    return BillingApi.bind(args)
