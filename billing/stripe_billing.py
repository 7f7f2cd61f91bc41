"""Stripe: Checkout sessions for subscriptions, and the webhook that keeps subscriptions true.

The webhook trusts nothing it is sent:

- the signature is verified by the Stripe SDK on the raw body, with the timestamp tolerance
  (a re-serialised, tampered, stale or otherwise-signed body is refused with 400);
- the event's object is re-read from Stripe's API, so an event that arrives late, twice or out of
  order still leaves the subscription as Stripe has it now;
- the event id is recorded with its effect in one transaction: duplicates have no effect.

Outgoing calls carry deterministic idempotency keys, so a retried checkout creates one session.
The SDK's base address is configurable: the tests point the real SDK at a local fake server.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe

from billing.metrics import PAYMENT_EVENTS
from billing.plans import Catalogue
from billing.subscriptions import Invoice, SubscriptionState, SubscriptionStore
from infra.logging import get_logger

log = get_logger(__name__)

STATUS = {
    "trialing": "trial",
    "active": "active",
    "past_due": "past_due",
    "incomplete": "incomplete",
    "unpaid": "suspended",
    "paused": "suspended",
    "canceled": "cancelled",
    "incomplete_expired": "cancelled",
}
HANDLED = (
    "checkout.session.completed",
    "invoice.paid",
    "invoice.payment_failed",
    "customer.subscription.updated",
    "customer.subscription.deleted",
)


class WebhookRejected(ValueError):
    """The notification is not authentic (or not parseable): answer 400, change nothing."""


@dataclass(frozen=True)
class StripeConfig:
    api_key: str
    webhook_secret: str
    api_base: str | None = None  # None: Stripe itself
    success_url: str = ""  # where Checkout sends the payer back (settings: public_url); required
    cancel_url: str = ""
    tolerance_s: int = 300


class StripeBilling:
    def __init__(self, config: StripeConfig, plans: Catalogue, store: SubscriptionStore) -> None:
        if not (config.success_url and config.cancel_url):
            raise ValueError("Stripe Checkout needs success and cancel URLs (settings: public_url)")
        self.config, self.plans, self.store = config, plans, store
        base = {"api": config.api_base} if config.api_base else None
        self.client = stripe.StripeClient(config.api_key, base_addresses=base, max_network_retries=2)

    async def create_checkout(self, tenant_id: str, plan_id: str, attempt_key: str) -> str:
        """A Checkout session for the plan; ``attempt_key`` makes a retried attempt the same session."""
        plan = self.plans.get(plan_id)
        if not plan.stripe_price_id:
            raise ValueError(f"plan {plan_id!r} has no Stripe price")
        params: dict[str, Any] = {
            "mode": "subscription",
            "line_items": [{"price": plan.stripe_price_id, "quantity": 1}],
            "client_reference_id": tenant_id,
            "success_url": self.config.success_url,
            "cancel_url": self.config.cancel_url,
            "subscription_data": {"metadata": {"tenant_id": tenant_id, "plan": plan_id}},
            "metadata": {"tenant_id": tenant_id, "plan": plan_id},
        }
        session = await asyncio.to_thread(
            self.client.v1.checkout.sessions.create,
            params,
            {"idempotency_key": f"checkout:{tenant_id}:{plan_id}:{attempt_key}"},
        )
        return session.url

    async def cancel_at_period_end(self, subscription_id: str) -> None:
        """Asks Stripe to end the subscription with its period; its webhooks then move the record."""
        await asyncio.to_thread(
            self.client.v1.subscriptions.update,
            subscription_id,
            {"cancel_at_period_end": True},
            {"idempotency_key": f"cancel:{subscription_id}"},
        )

    def _verify(self, raw: bytes, signature: str | None) -> stripe.Event:
        try:
            return self.client.construct_event(raw, signature, self.config.webhook_secret, tolerance=self.config.tolerance_s)
        except stripe.SignatureVerificationError as exc:
            raise WebhookRejected(f"bad signature: {exc.user_message or exc}") from None
        except ValueError as exc:
            raise WebhookRejected(f"not a Stripe event: {exc}") from None

    def _subscription_state(self, subscription_id: str, tenant_hint: str | None) -> SubscriptionState | None:
        sub = self.client.v1.subscriptions.retrieve(subscription_id).to_dict()
        metadata = sub.get("metadata") or {}
        tenant = metadata.get("tenant_id") or tenant_hint
        items = (sub.get("items") or {}).get("data") or []
        price = items[0]["price"]["id"] if items else None
        priced = self.plans.by_stripe_price(price) if price else None
        plan = priced.id if priced else metadata.get("plan")
        if not tenant or not plan:
            log.warning("stripe.subscription_unmapped", subscription=subscription_id)
            return None
        # Since API version 2025-03-31.basil the period lives on the subscription's items (the SDK
        # pinned here speaks a later one); each item may have its own, and the subscription runs
        # until the last of them ends.
        ends = [i["current_period_end"] for i in items if i.get("current_period_end")]
        end = max(ends) if ends else None
        created = sub.get("created")
        return SubscriptionState(
            tenant,
            plan,
            STATUS.get(sub["status"], "suspended"),
            "stripe",
            subscription_id,
            datetime.fromtimestamp(end, UTC) if end else None,
            created_at=datetime.fromtimestamp(created, UTC) if created else None,
            cancel_at_period_end=bool(sub.get("cancel_at_period_end")),
        )

    def _state_for(self, event: dict[str, Any]) -> tuple[SubscriptionState | None, Invoice | None]:
        """The subscription as Stripe has it now and, for invoice events, the invoice (both re-read)."""
        obj = event["data"]["object"]
        kind = event["type"]
        if kind == "checkout.session.completed":
            session = self.client.v1.checkout.sessions.retrieve(obj["id"]).to_dict()
            if not session.get("subscription"):
                return None, None
            return self._subscription_state(session["subscription"], session.get("client_reference_id")), None
        if kind.startswith("invoice."):
            invoice = self.client.v1.invoices.retrieve(obj["id"]).to_dict()
            sub_id = invoice.get("subscription") or (
                ((invoice.get("parent") or {}).get("subscription_details") or {}).get("subscription")
            )
            state = self._subscription_state(sub_id, None) if sub_id else None
            return state, (self._invoice(invoice, kind, state.tenant_id) if state else None)
        return self._subscription_state(obj["id"], None), None

    @staticmethod
    def _invoice(invoice: dict[str, Any], kind: str, tenant_id: str) -> Invoice:
        status = "failed" if kind == "invoice.payment_failed" else str(invoice.get("status") or "open")
        amount = invoice.get("amount_paid") if status == "paid" else invoice.get("amount_due")
        return Invoice(
            tenant_id,
            "stripe",
            invoice["id"],
            int(amount or 0),
            str(invoice.get("currency") or "rub").upper(),
            status,
            invoice.get("hosted_invoice_url"),
        )

    async def handle_webhook(self, raw: bytes, signature: str | None) -> str:
        """ "processed", "duplicate" or "ignored"; raises ``WebhookRejected`` for a forged body."""
        event = self._verify(raw, signature).to_dict()
        if event["type"] not in HANDLED:
            PAYMENT_EVENTS.inc(provider="stripe", event="other", outcome="ignored")
            return "ignored"
        state, invoice = await asyncio.to_thread(self._state_for, event)
        applied = await self.store.apply_event("stripe", event["id"], event["type"], state, invoice)
        log.info("stripe.webhook", event_type=event["type"], event_id=event["id"], applied=applied)
        outcome = "processed" if applied else "duplicate"
        PAYMENT_EVENTS.inc(provider="stripe", event=event["type"], outcome=outcome)
        return outcome
