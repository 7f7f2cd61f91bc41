"""The usage gate: the one narrow interface through which the rest of the system meets billing.

The ingress asks it before a paid request (``check``, or ``consume`` where the amount is known
up front, as for an uploaded recording) and tells it afterwards what was used (``record``); a
call asks for an ``allowance`` that it extends as the call goes on; the admin API asks it about
voices and fine-tuning jobs. Everything else (plans, subscriptions, Redis, the ledger, e-mails)
stays behind it.

A tenant's plan is its subscription's while that is on trial (until the trial ends), active or
past due (until the period's end plus the grace period: ``billing/lifecycle.py``); incomplete,
expired, suspended, cancelled or no subscription at all is refused with ``SubscriptionRequired``.
Limits are per calendar month (UTC), from ``cluster/plans.yaml``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from billing.lifecycle import effective_status
from billing.metering import METRICS, Consumption, UsageMeter, period_of
from billing.metrics import METERING_BACKLOG, USAGE
from billing.notifications import SmtpConfig, UsageNotifier
from billing.plans import Catalogue, Plan, load_plans
from billing.subscriptions import SubscriptionStore
from infra.logging import get_logger
from infra.settings import Settings, get_settings

log = get_logger(__name__)
SERVING_STATUSES = ("trial", "active", "past_due")


class UsageLimitExceeded(Exception):
    """The tenant's plan has no room left for this metric this month (HTTP 402)."""

    def __init__(self, metric: str, limit: int, used: int, upgrade_url: str) -> None:
        self.metric, self.limit, self.used, self.upgrade_url = metric, limit, used, upgrade_url
        super().__init__(f"the plan's monthly limit of {limit} for {metric} is used up ({used} used)")


class SubscriptionRequired(Exception):
    """The tenant has no subscription that serves (none, suspended or cancelled; HTTP 402)."""

    def __init__(self, tenant: str, status: str | None, upgrade_url: str) -> None:
        self.tenant, self.status, self.upgrade_url = tenant, status, upgrade_url
        super().__init__("no active subscription" if status is None else f"the subscription is {status}")


@dataclass
class CallAllowance:
    """Call time granted slice by slice, so a call over the limit ends while it runs.

    Each slice is counted when it has been used (``extend``), limited by the plan; the rest of
    the call is counted at the end (``settle``) whatever the limit, so the ledger holds the true
    duration. A call can pass the limit by at most one slice and its closing notice.
    """

    gate: UsageGate
    tenant: str
    call_id: str
    slice_s: float = 15.0
    counted_ms: int = 0
    _slices: int = 0
    _settled: bool = False

    async def admit(self) -> bool:
        """May the call start? False: the caller hears the limit notice instead of the greeting."""
        try:
            await self.gate.check(self.tenant, "call_ms")
        except (UsageLimitExceeded, SubscriptionRequired) as exc:
            log.info("usage.call_refused", tenant=self.tenant, call_id=self.call_id, reason=str(exc))
            return False
        return True

    async def extend(self, elapsed_s: float) -> bool:
        """Count the call up to ``elapsed_s``; False once the plan has no room for it."""
        amount = int(elapsed_s * 1000) - self.counted_ms
        if amount <= 0:
            return True
        self._slices += 1
        try:
            await self.gate.consume(self.tenant, "call_ms", amount, f"call:{self.call_id}:{self._slices}")
        except (UsageLimitExceeded, SubscriptionRequired) as exc:
            log.info("usage.call_over_limit", tenant=self.tenant, call_id=self.call_id, reason=str(exc))
            return False
        self.counted_ms += amount
        return True

    async def settle(self, elapsed_s: float) -> None:
        """Count what is left of the call, over the limit or not (it was spoken already)."""
        if self._settled:
            return
        self._settled = True
        amount = int(elapsed_s * 1000) - self.counted_ms
        if amount > 0:
            await self.gate.record(self.tenant, "call_ms", amount, f"call:{self.call_id}:end")
            self.counted_ms += amount


class UsageGate:
    def __init__(
        self,
        meter: UsageMeter,
        plans: Catalogue,
        subscriptions: SubscriptionStore,
        notifier: UsageNotifier | None = None,
        upgrade_url: str = "/billing/plans",
        plan_ttl_s: float = 10.0,
        grace: timedelta = timedelta(days=3),
    ) -> None:
        self.meter, self.plans, self.subscriptions = meter, plans, subscriptions
        self.grace = grace
        self.notifier, self.upgrade_url, self.plan_ttl_s = notifier, upgrade_url, plan_ttl_s
        self._plans: dict[str, tuple[float, Plan | None, str | None]] = {}
        self._flusher: asyncio.Task | None = None
        self._flush_interval: float | None = None

    def start_flusher(self, interval_s: float = 5.0) -> None:
        """Move counted usage into the SQL ledger every ``interval_s`` (idempotent: replicas may all run one).

        Called from a constructor that may have no event loop yet: the loop starts with the
        first use of the gate then.
        """
        self._flush_interval = interval_s
        self._ensure_flusher()

    def _ensure_flusher(self) -> None:
        if self._flush_interval is None or self._flusher is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return

        async def flush_forever(interval_s: float) -> None:
            while True:
                await asyncio.sleep(interval_s)
                try:
                    await self.meter.flush()
                    METERING_BACKLOG.set(float(await self.meter.backlog()))
                except Exception as exc:  # Redis or the database away: the events wait in the stream
                    log.warning("usage.flush_failed", error=type(exc).__name__)

        self._flusher = loop.create_task(flush_forever(self._flush_interval))

    # ---- the tenant's plan -------------------------------------------------------------------------
    async def plan_for(self, tenant: str) -> Plan:
        """The plan that serves the tenant now; cached briefly (a webhook's change shows within seconds)."""
        self._ensure_flusher()
        cached = self._plans.get(tenant)
        if cached is None or time.monotonic() - cached[0] > self.plan_ttl_s:
            sub = await self.subscriptions.get(tenant)
            # A trial past its end or a period past its grace stops serving now, sweep or not.
            status = None if sub is None else effective_status(sub, datetime.now(UTC), self.grace)
            plan = self.plans.plans.get(sub.plan) if status in SERVING_STATUSES else None
            cached = (time.monotonic(), plan, status)
            self._plans[tenant] = cached
        if cached[1] is None:
            raise SubscriptionRequired(tenant, cached[2], self.upgrade_url)
        return cached[1]

    # ---- metered quantities ------------------------------------------------------------------------
    async def check(self, tenant: str, metric: str) -> None:
        """Refuse when the month's limit is already used up (the amount is not known yet)."""
        limit = (await self.plan_for(tenant)).limit(metric)
        if limit is None:
            return
        used = await self.meter.used(tenant, metric)
        if used >= limit:
            raise UsageLimitExceeded(metric, limit, used, self.upgrade_url)

    async def consume(self, tenant: str, metric: str, amount: int, event_id: str) -> Consumption:
        """Count ``amount`` atomically if it fits in the limit, else refuse and count nothing."""
        plan = await self.plan_for(tenant)
        result = await self.meter.consume(tenant, metric, amount, limit=plan.limit(metric), event_id=event_id)
        if not result.allowed:
            raise UsageLimitExceeded(metric, plan.limit(metric), result.used, self.upgrade_url)
        self._after(tenant, metric, result, plan.id, amount)
        return result

    async def record(self, tenant: str, metric: str, amount: int, event_id: str) -> Consumption:
        """Count what was already delivered (tokens generated, audio spoken), limit or not."""
        try:
            plan = await self.plan_for(tenant)
            limit, plan_name = plan.limit(metric), plan.id
        except SubscriptionRequired:
            limit, plan_name = None, "none"  # it was delivered; it is counted all the same
        result = await self.meter.consume(tenant, metric, amount, limit=limit, event_id=event_id, allow_over=True)
        self._after(tenant, metric, result, plan_name, amount)
        return result

    def _after(self, tenant: str, metric: str, result: Consumption, plan: str, amount: int) -> None:
        if result.duplicate:
            return
        USAGE.inc(float(amount), plan=plan, metric=metric)
        if self.notifier is not None:
            self.notifier.after_consume(tenant, period_of(), metric, result.used, result.limit)

    def allowance(self, tenant: str, call_id: str, slice_s: float = 15.0) -> CallAllowance:
        return CallAllowance(self, tenant, call_id, slice_s)

    # ---- quotas that are not metered ---------------------------------------------------------------
    async def check_voices(self, tenant: str, voices: set[str]) -> None:
        """Refuse a set of distinct persona voices larger than the plan allows."""
        limit = (await self.plan_for(tenant)).voices
        if limit is not None and len(voices) > limit:
            raise UsageLimitExceeded("voices", limit, len(voices), self.upgrade_url)

    async def reserve_finetune(self, tenant: str, job_id: str) -> Consumption:
        """Count one fine-tuning job against the month's allowance before it is submitted."""
        return await self.consume(tenant, "finetunes", 1, f"finetune:{job_id}")

    async def release_finetune(self, tenant: str, job_id: str) -> bool:
        """Give the job's allowance back (it failed before training); once, whatever the retries."""
        return await self.meter.refund(tenant, "finetunes", 1, f"finetune:{job_id}")

    async def usage(self, tenant: str) -> dict[str, Any]:
        """This month's use and limits, per metric (for the billing app and the admin API)."""
        plan = await self.plan_for(tenant)
        return {
            "plan": plan.id,
            "period": period_of(),
            "metrics": {m: {"used": await self.meter.used(tenant, m), "limit": plan.limit(m)} for m in METRICS},
        }

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            await self.meter.flush()
        if self.notifier is not None:
            await self.notifier.drain()
        await self.meter.close()


def build_gate(settings: Settings | None = None, plans: Catalogue | None = None) -> UsageGate | None:
    """The gate from settings; None when metering is off (nothing is limited or counted)."""
    settings = settings or get_settings()
    if not settings.metering:
        log.warning("usage.metering_off", hint="SECRETARY_METERING=false: plans are not enforced")
        return None
    from accounts.service import AccountService

    meter = UsageMeter(settings.redis_url, settings.database_url)
    notifier = UsageNotifier(
        meter.redis, AccountService(settings.database_url).contacts, SmtpConfig.from_settings(settings), settings.upgrade_url
    )
    return UsageGate(
        meter,
        plans or load_plans(),
        SubscriptionStore(settings.database_url),
        notifier,
        settings.upgrade_url,
        grace=timedelta(days=settings.billing_grace_days),
    )
