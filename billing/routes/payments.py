"""Plans, the tenant's subscription, Stripe Checkout and the Stripe webhook."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, Field

from billing.dependencies import Services, TenantReader, TenantUser
from billing.metrics import PAYMENT_EVENTS
from billing.stripe_billing import WebhookRejected
from billing.yookassa_billing import NotificationRejected
from infra.http_errors import APIError

router = APIRouter(tags=["payments"])


class CheckoutRequest(BaseModel):
    plan: str = Field(min_length=1, max_length=32)
    # The client's id for this purchase attempt: a retried request gets the same Checkout session.
    attempt_key: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


@router.get("/plans")
async def plans(services: Services) -> dict:
    return {
        "trial_days": services.plans.trial_days,
        "items": [{k: v for k, v in asdict(p).items() if k != "stripe_price_id"} for p in services.plans.plans.values()],
    }


@router.get("/subscription")
async def subscription(user: TenantReader, services: Services) -> dict:
    sub = await services.subscriptions.get(user.tenant_id)
    if sub is None:
        raise APIError(404, "no subscription yet", code="not_found")
    return _subscription_out(sub)


def _subscription_out(sub: Any) -> dict:
    out = {k: v for k, v in asdict(sub).items() if k != "payment_method_ref"}
    return {**out, "current_period_end": sub.current_period_end.isoformat() if sub.current_period_end else None}


@router.post("/subscription/cancel")
async def cancel(user: TenantUser, services: Services) -> dict:
    """Cancel at the end of the paid period: the plan serves until then and is never charged again.

    Stripe is told first (its webhooks then confirm); a YooKassa subscription simply stops renewing
    (``billing/lifecycle.py``). A trial ends by itself, and an operator's grant is the operator's."""
    sub = await services.subscriptions.get(user.tenant_id)
    if sub is None or sub.status not in ("active", "past_due") or sub.provider == "operator":
        status = sub.status if sub else "none"
        raise APIError(409, f"there is no paid subscription to cancel (status: {status})", code="nothing_to_cancel")
    if sub.cancel_at_period_end:
        return _subscription_out(sub)
    if sub.provider == "stripe":
        stripe = _provider(services.stripe, "Stripe")
        try:
            await stripe.cancel_at_period_end(sub.provider_ref)
        except Exception as exc:  # the provider away or refusing: nothing changed here either
            raise APIError(
                503, f"Stripe did not take the cancellation ({type(exc).__name__}); try again", code="provider_unavailable"
            ) from None
    cancelled = await services.subscriptions.cancel_at_period_end(user.tenant_id)
    if cancelled is None:  # it changed meanwhile (a webhook)
        raise APIError(409, "the subscription changed meanwhile; reload and try again", code="nothing_to_cancel")
    return _subscription_out(cancelled)


@router.get("/invoices")
async def invoices(user: TenantReader, services: Services) -> dict:
    """The tenant's charges as the payment providers report them, newest first."""
    return {"items": [{**asdict(i), "id": i.id} for i in await services.subscriptions.invoices(user.tenant_id)]}


@router.get("/invoices/{invoice_id}")
async def invoice(user: TenantReader, services: Services, invoice_id: str) -> dict:
    for i in await services.subscriptions.invoices(user.tenant_id):
        if i.id == invoice_id:
            return {**asdict(i), "id": i.id}
    raise APIError(404, f"no invoice {invoice_id!r}", param="invoice_id", code="not_found")  # never another tenant's


def _provider(provider: Any, name: str) -> Any:
    if provider is None:
        raise APIError(503, f"{name} payments are not configured", code="payments_unavailable")
    return provider


async def _payment_page(start: Awaitable[str]) -> dict:
    """The provider's payment page for a plan; an unknown plan is the client's error."""
    try:
        return {"url": await start}
    except KeyError as exc:
        raise APIError(400, str(exc.args[0]), param="plan") from None


@router.post("/checkout/stripe")
async def checkout(body: CheckoutRequest, user: TenantUser, services: Services) -> dict:
    stripe = _provider(services.stripe, "Stripe")
    return await _payment_page(stripe.create_checkout(user.tenant_id, body.plan, body.attempt_key))


@router.post("/webhooks/stripe", include_in_schema=True)
async def stripe_webhook(request: Request, services: Services, stripe_signature: str | None = Header(default=None)) -> dict:
    """Public, but nothing is believed before the signature on the raw body checks out."""
    stripe = _provider(services.stripe, "Stripe")
    try:
        outcome = await stripe.handle_webhook(await request.body(), stripe_signature)
    except WebhookRejected as exc:
        PAYMENT_EVENTS.inc(provider="stripe", event="unverified", outcome="rejected")
        raise APIError(400, str(exc), code="invalid_signature") from None
    except Exception:
        PAYMENT_EVENTS.inc(provider="stripe", event="unknown", outcome="error")  # Stripe retries it
        raise
    return {"received": True, "outcome": outcome}


@router.post("/checkout/yookassa")
async def checkout_yookassa(body: CheckoutRequest, user: TenantUser, services: Services) -> dict:
    yookassa = _provider(services.yookassa, "YooKassa")
    return await _payment_page(yookassa.create_payment(user.tenant_id, body.plan, body.attempt_key))


@router.post("/webhooks/yookassa")
async def yookassa_webhook(request: Request, services: Services) -> dict:
    """Public; believed only from YooKassa's addresses, and then only as far as the re-fetched payment."""
    yookassa = _provider(services.yookassa, "YooKassa")
    try:
        body = await request.json()
    except ValueError:
        raise APIError(400, "the body is not JSON") from None
    try:
        outcome = await yookassa.handle_notification(request.client.host if request.client else None, body)
    except NotificationRejected as exc:
        PAYMENT_EVENTS.inc(provider="yookassa", event="unverified", outcome="rejected")
        status = 403 if "addresses" in str(exc) else 400
        raise APIError(status, str(exc), code="notification_rejected") from None
    except Exception:
        PAYMENT_EVENTS.inc(provider="yookassa", event="unknown", outcome="error")  # YooKassa retries it
        raise
    return {"received": True, "outcome": outcome}
