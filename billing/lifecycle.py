"""Billing that ends: trials expire, unpaid periods lapse, saved cards are charged on schedule.

The gate asks ``effective_status`` on every plan lookup, so a trial stops serving the moment it
ends, not at the next sweep. The sweep (``BillingLifecycle.sweep``, every few minutes in the
billing app; any number of replicas may run it) writes those transitions down, so that the
console and the provider-facing code see the same state, and starts YooKassa renewals:

- a ``trial`` past its end becomes ``expired``;
- an ``active`` or ``past_due`` subscription past its period end plus the grace period becomes
  ``suspended`` (an operator's grant has no end and never lapses);
- a subscription the owner cancelled becomes ``cancelled`` when its paid period ends (no grace:
  nothing is owed, nothing renews);
- a YooKassa subscription with a saved card is charged ``renew_ahead`` before its period ends,
  once per period: the renewal is claimed in the database before the charge and the charge's
  idempotency key names the period. The payment's notification then extends the period.

Stripe renews by itself; its webhooks move the subscription.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from billing.subscriptions import Subscription, SubscriptionStore
from infra.database import as_utc, utcnow
from infra.logging import get_logger
from infra.periodic import Periodic

log = get_logger(__name__)
PAID = ("active", "past_due")


def effective_status(sub: Subscription, now: datetime, grace: timedelta) -> str:
    """The subscription's status at ``now``, whether or not a sweep has written it down yet."""
    end = as_utc(sub.current_period_end)
    if end is None or sub.provider == "operator":
        return sub.status
    if sub.status == "trial" and now >= end:
        return "expired"
    if sub.status in PAID and sub.cancel_at_period_end and now >= end:
        return "cancelled"
    if sub.status in PAID and now >= end + grace:
        return "suspended"
    return sub.status


def period_key(end: datetime) -> str:
    """The name of the period a renewal pays for: the date the current one ends."""
    return as_utc(end).date().isoformat()


@dataclass
class SweepReport:
    expired: list[str] = field(default_factory=list)
    suspended: list[str] = field(default_factory=list)
    renewals: dict[str, str] = field(default_factory=dict)  # tenant -> payment id
    renewal_errors: dict[str, str] = field(default_factory=dict)


class BillingLifecycle:
    def __init__(
        self,
        store: SubscriptionStore,
        yookassa: Any = None,  # billing.yookassa_billing.YooKassaBilling, or None
        grace: timedelta = timedelta(days=3),
        renew_ahead: timedelta = timedelta(days=1),
        stale_claim: timedelta = timedelta(hours=1),
    ) -> None:
        self.store, self.yookassa = store, yookassa
        self.grace, self.renew_ahead, self.stale_claim = grace, renew_ahead, stale_claim
        self._periodic: Periodic | None = None

    async def sweep(self, now: datetime | None = None) -> SweepReport:
        """One pass: expire, lapse, renew. Safe to run concurrently and repeatedly."""
        now = now or utcnow()
        report = SweepReport()
        for sub in await self.store.with_status(("trial", *PAID)):
            status = effective_status(sub, now, self.grace)
            if status == "expired" and await self.store.set_status(sub.tenant_id, "expired", ("trial",)):
                report.expired.append(sub.tenant_id)
                log.info("billing.trial_expired", tenant=sub.tenant_id)
            elif status == "cancelled" and await self.store.set_status(sub.tenant_id, "cancelled", PAID):
                log.info("billing.cancelled_at_period_end", tenant=sub.tenant_id)
            elif status == "suspended" and await self.store.set_status(sub.tenant_id, "suspended", PAID):
                report.suspended.append(sub.tenant_id)
                log.info("billing.period_lapsed", tenant=sub.tenant_id, period_end=str(sub.current_period_end))
            elif status in PAID and self._renewal_due(sub, now):
                await self._renew(sub, report)
        return report

    def _renewal_due(self, sub: Subscription, now: datetime) -> bool:
        return (
            self.yookassa is not None
            and sub.provider == "yookassa"
            and sub.payment_method_ref is not None
            and not sub.cancel_at_period_end
            and sub.current_period_end is not None
            and now >= as_utc(sub.current_period_end) - self.renew_ahead
        )

    async def _renew(self, sub: Subscription, report: SweepReport) -> None:
        period = period_key(sub.current_period_end)
        if not await self.store.claim_renewal(sub.tenant_id, period, self.stale_claim):
            return
        try:
            payment_id = await self.yookassa.renew(sub, period)
        except Exception as exc:  # the provider away or refusing: release the claim, retry next sweep
            await self.store.renewal_made(sub.tenant_id, period, None)
            report.renewal_errors[sub.tenant_id] = f"{type(exc).__name__}: {exc}"
            log.warning("billing.renewal_failed", tenant=sub.tenant_id, period=period, error=type(exc).__name__)
            return
        await self.store.renewal_made(sub.tenant_id, period, payment_id)
        report.renewals[sub.tenant_id] = payment_id
        log.info("billing.renewal_started", tenant=sub.tenant_id, period=period, payment_id=payment_id)

    def start(self, interval_s: float) -> None:
        """Sweep every ``interval_s`` in the running loop (from the first request if none runs yet)."""
        if self._periodic is None:
            self._periodic = Periodic("billing-sweep", self.sweep, interval_s)
        self._periodic.start()

    async def close(self) -> None:
        if self._periodic is not None:
            await self._periodic.stop()
