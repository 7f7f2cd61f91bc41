"""YooKassa: a first payment that saves the card, renewals charged to it, and notifications.

YooKassa's notifications carry no signature. One is acted on only if it comes from YooKassa's
address ranges (configurable; the SDK's list by default) *and* the payment, fetched again by id
from YooKassa's API, says the same: a forged ``payment.succeeded`` for a payment that is really
pending grants nothing. The fetched payment's id and status are recorded with the effect in one
transaction, so repeated notifications have one effect. Outgoing payments carry deterministic
idempotency keys (a renewal's key names its period: it can never be charged twice).
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from billing.metrics import PAYMENT_EVENTS
from billing.plans import Catalogue
from billing.subscriptions import Invoice, Subscription, SubscriptionState, SubscriptionStore
from infra.logging import get_logger

log = get_logger(__name__)
YOOKASSA_NETWORKS = (
    "77.75.153.0/25",
    "77.75.156.11/32",
    "77.75.156.35/32",
    "77.75.154.128/25",
    "185.71.76.0/27",
    "185.71.77.0/27",
    "2a02:5180::/32",
)
PERIOD = timedelta(days=30)


class NotificationRejected(ValueError):
    """Not from YooKassa's addresses, or not a notification: answer 403/400, change nothing."""


@dataclass(frozen=True)
class YooKassaConfig:
    shop_id: str
    secret_key: str
    api_url: str = "https://api.yookassa.ru/v3"
    return_url: str = ""  # where the payer comes back to (settings: public_url); required
    trusted_networks: tuple[str, ...] = field(default=YOOKASSA_NETWORKS)


class YooKassaBilling:
    def __init__(self, config: YooKassaConfig, plans: Catalogue, store: SubscriptionStore) -> None:
        from yookassa import Configuration

        if not config.return_url:
            raise ValueError("YooKassa payments need a return URL (settings: public_url)")
        self.config, self.plans, self.store = config, plans, store
        self.networks = [ipaddress.ip_network(n) for n in config.trusted_networks]
        Configuration.configure(config.shop_id, config.secret_key, api_url=config.api_url, max_attempts=2, timeout=30)

    def trusted(self, ip: str | None) -> bool:
        try:
            address = ipaddress.ip_address(ip or "")
        except ValueError:
            return False
        return any(address in n for n in self.networks)

    @staticmethod
    def _amount(rub: int) -> dict[str, str]:
        return {"value": f"{rub}.00", "currency": "RUB"}

    async def create_payment(self, tenant_id: str, plan_id: str, attempt_key: str) -> str:
        """The first payment of a plan; the card is saved for renewals. Returns the payment page URL."""
        from yookassa import Payment

        plan = self.plans.get(plan_id)
        params = {
            "amount": self._amount(plan.price_rub),
            "capture": True,
            "save_payment_method": True,
            "confirmation": {"type": "redirect", "return_url": self.config.return_url},
            "description": f"secretary: {plan.title}",
            "metadata": {"tenant_id": tenant_id, "plan": plan_id},
        }
        payment = await asyncio.to_thread(Payment.create, params, f"yk:{tenant_id}:{plan_id}:{attempt_key}")
        return payment.confirmation.confirmation_url

    async def renew(self, subscription: Subscription, period: str) -> str:
        """Charge the saved card for the period after the one ending on ``period`` ("2026-12-31").

        Returns the payment id. The idempotency key names the period, and the payment carries the
        new period's end, so its notification extends the subscription from the old end (paying
        early loses no days) and a repeated notification extends it once.
        """
        from yookassa import Payment

        if not subscription.payment_method_ref:
            raise ValueError("no saved payment method to renew with")
        if subscription.current_period_end is None:
            raise ValueError("the subscription has no period to renew")
        plan = self.plans.get(subscription.plan)
        new_end = subscription.current_period_end + PERIOD
        params = {
            "amount": self._amount(plan.price_rub),
            "capture": True,
            "payment_method_id": subscription.payment_method_ref,
            "description": f"secretary: {plan.title}, {period}",
            "metadata": {
                "tenant_id": subscription.tenant_id,
                "plan": plan.id,
                "period": period,
                "renews": subscription.current_period_end.isoformat(),
                "period_end": new_end.isoformat(),
            },
        }
        payment = await asyncio.to_thread(Payment.create, params, f"yk-renew:{subscription.tenant_id}:{period}")
        return payment.id

    async def handle_notification(self, remote_ip: str | None, body: dict[str, Any]) -> str:
        """ "processed", "duplicate" or "ignored"; ``NotificationRejected`` for a foreign sender."""
        from yookassa import Payment

        if not self.trusted(remote_ip):
            raise NotificationRejected(f"notifications are accepted only from YooKassa's addresses, not {remote_ip}")
        obj = body.get("object") if isinstance(body, dict) else None
        if body.get("type") != "notification" or not isinstance(obj, dict) or not obj.get("id"):
            raise NotificationRejected("not a YooKassa notification")
        if not str(body.get("event", "")).startswith("payment."):
            PAYMENT_EVENTS.inc(provider="yookassa", event="other", outcome="ignored")
            return "ignored"
        payment = await asyncio.to_thread(Payment.find_one, str(obj["id"]))  # the truth, not the claim
        state = self._state(payment)
        invoice = self._invoice(payment)
        applied = await self.store.apply_event(
            "yookassa", f"{payment.id}:{payment.status}", str(body["event"]), state, invoice
        )
        log.info("yookassa.notification", event_type=body.get("event"), status=payment.status, applied=applied)
        outcome = "processed" if applied else "duplicate"
        PAYMENT_EVENTS.inc(provider="yookassa", event=f"payment.{payment.status}", outcome=outcome)
        return outcome

    @staticmethod
    def _invoice(payment: Any) -> Invoice | None:
        """A payment that has an outcome is the tenant's invoice for it (paid or failed)."""
        tenant = dict(payment.metadata or {}).get("tenant_id")
        status = {"succeeded": "paid", "canceled": "failed"}.get(payment.status)
        if not tenant or status is None:
            return None
        amount = round(float(payment.amount.value) * 100)
        return Invoice(tenant, "yookassa", payment.id, amount, str(payment.amount.currency), status)

    def _state(self, payment: Any) -> SubscriptionState | None:
        metadata = dict(payment.metadata or {})
        tenant, plan = metadata.get("tenant_id"), metadata.get("plan")
        if not tenant or not plan or plan not in self.plans.plans:
            return None
        created = _when(getattr(payment, "created_at", None))
        if payment.status == "succeeded":
            method = payment.payment_method
            saved = method.id if method is not None and getattr(method, "saved", False) else None
            end = _when(metadata.get("period_end")) or datetime.now(UTC) + PERIOD
            return SubscriptionState(tenant, plan, "active", "yookassa", payment.id, end, saved, created)
        if payment.status == "canceled" and metadata.get("period"):  # a renewal that failed: grace, then lapse
            return SubscriptionState(
                tenant, plan, "past_due", "yookassa", payment.id, _when(metadata.get("renews")), None, created
            )
        return None  # pending, waiting_for_capture, a first payment abandoned: nothing changes


def _when(text: Any) -> datetime | None:
    """An ISO time from YooKassa or our own metadata; None when absent or unreadable."""
    if not text:
        return None
    try:
        at = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)
