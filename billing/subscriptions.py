"""Subscriptions and their lifecycle: trial → active ⇄ past due → suspended, and cancelled.

A trial ends at its ``current_period_end`` (``expired``); a paid period that passes its end plus
the grace period is ``suspended`` (``billing/lifecycle.py`` decides and sweeps). ``incomplete``
(a first payment not yet made) does not serve.

A subscription's state follows the payment provider's own object, re-read from its API when a
notification arrives: the provider is the source of truth, so events that come twice or out of
order converge on the same state. Every notification is recorded once (``webhook_events``,
keyed by provider and event id) in the same transaction as its effect, so concurrent duplicate
deliveries have exactly one effect. An event about an older subscription than the tenant's
current one (by the provider's creation time) is recorded, and its invoice kept, but it does
not overwrite the current subscription.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, Boolean, DateTime, String, false, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from infra.database import Base, as_utc, session_factory, transaction, utcnow

STATUSES = ("trial", "active", "past_due", "incomplete", "expired", "suspended", "cancelled")


class SubscriptionRow(Base):
    __tablename__ = "subscriptions"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    plan: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str | None] = mapped_column(String(16))
    provider_ref: Mapped[str | None] = mapped_column(String(128), index=True)
    current_period_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The owner cancelled: the plan serves to the period's end, then ends; nothing renews it.
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    payment_method_ref: Mapped[str | None] = mapped_column(String(128))  # a saved method, for renewals
    # When the provider created the object provider_ref names: an older one never overwrites it.
    provider_created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebhookEventRow(Base):
    __tablename__ = "webhook_events"

    provider: Mapped[str] = mapped_column(String(16), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RenewalRow(Base):
    """One renewal charge per tenant and period, claimed before it is made: never charged twice."""

    __tablename__ = "renewals"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(32), primary_key=True)  # the period's end date, "2026-12-31"
    payment_id: Mapped[str | None] = mapped_column(String(128))
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class InvoiceRow(Base):
    """One charge as the provider reports it (a Stripe invoice, a YooKassa payment); its latest state."""

    __tablename__ = "invoices"

    id: Mapped[str] = mapped_column(String(160), primary_key=True)  # "<provider>:<provider_ref>"
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    provider: Mapped[str] = mapped_column(String(16))
    provider_ref: Mapped[str] = mapped_column(String(128))
    amount_minor: Mapped[int] = mapped_column(BigInteger)  # kopecks, cents
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))  # "paid", "open", "failed"
    url: Mapped[str | None] = mapped_column(String(500))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


@dataclass(frozen=True)
class Invoice:
    tenant_id: str
    provider: str
    provider_ref: str
    amount_minor: int
    currency: str
    status: str
    url: str | None = None

    @property
    def id(self) -> str:
        return f"{self.provider}:{self.provider_ref}"


@dataclass(frozen=True)
class Subscription:
    tenant_id: str
    plan: str
    status: str
    provider: str | None
    provider_ref: str | None
    current_period_end: datetime | None
    payment_method_ref: str | None = None
    cancel_at_period_end: bool = False


@dataclass(frozen=True)
class SubscriptionState:
    """What the provider says now about one subscription."""

    tenant_id: str
    plan: str
    status: str
    provider: str
    provider_ref: str
    current_period_end: datetime | None
    payment_method_ref: str | None = None
    created_at: datetime | None = None  # when the provider created this object (orders subscriptions)
    cancel_at_period_end: bool = False  # the provider's word (Stripe); a new YooKassa payment clears it


def _out(row: SubscriptionRow) -> Subscription:
    return Subscription(
        row.tenant_id,
        row.plan,
        row.status,
        row.provider,
        row.provider_ref,
        as_utc(row.current_period_end),
        row.payment_method_ref,
        bool(row.cancel_at_period_end),
    )


def _older(state: SubscriptionState, row: SubscriptionRow) -> bool:
    """Is ``state`` about a subscription older than the one the tenant has now (same provider)?"""
    if row.provider != state.provider or row.provider_ref in (None, state.provider_ref):
        return False
    if state.created_at is None or row.provider_created_at is None:
        return False
    return as_utc(state.created_at) < as_utc(row.provider_created_at)


class SubscriptionStore:
    def __init__(self, url: str | None = None) -> None:
        self.url = url

    async def get(self, tenant_id: str) -> Subscription | None:
        async with session_factory(self.url)() as s:
            row = await s.get(SubscriptionRow, tenant_id)
            return _out(row) if row else None

    async def by_provider_ref(self, provider: str, ref: str) -> Subscription | None:
        async with session_factory(self.url)() as s:
            row = (
                await s.execute(
                    select(SubscriptionRow).where(SubscriptionRow.provider == provider, SubscriptionRow.provider_ref == ref)
                )
            ).scalar_one_or_none()
            return _out(row) if row else None

    async def start_trial(self, tenant_id: str, plan: str, days: int) -> Subscription:
        """A trial of ``days`` days: it ends at ``current_period_end`` (the gate stops serving then)."""
        async with transaction(self.url) as s:
            row = await s.get(SubscriptionRow, tenant_id)
            if row is None:
                now = utcnow()
                row = SubscriptionRow(
                    tenant_id=tenant_id,
                    plan=plan,
                    status="trial",
                    current_period_end=now + timedelta(days=days),
                    updated_at=now,
                )
                s.add(row)
            return _out(row)

    async def set_status(self, tenant_id: str, status: str, only_from: tuple[str, ...]) -> bool:
        """Move one subscription to ``status`` if it is still in one of ``only_from`` (the lifecycle sweep).

        One conditional UPDATE: of two sweepers racing, exactly one sees its row change.
        """
        if status not in STATUSES:
            raise ValueError(f"unknown subscription status {status!r}")
        stmt = (
            update(SubscriptionRow)
            .where(SubscriptionRow.tenant_id == tenant_id, SubscriptionRow.status.in_(only_from))
            .values(status=status, updated_at=utcnow())
        )
        async with transaction(self.url) as s:
            return (await s.execute(stmt)).rowcount == 1

    async def cancel_at_period_end(self, tenant_id: str) -> Subscription | None:
        """Marks a paid subscription to end with its period (no renewal); None if there is none to cancel."""
        async with transaction(self.url) as s:
            row = await s.get(SubscriptionRow, tenant_id, with_for_update=True)
            if row is None or row.status not in ("active", "past_due") or row.provider == "operator":
                return None
            row.cancel_at_period_end, row.updated_at = True, utcnow()
            return _out(row)

    async def with_status(self, statuses: tuple[str, ...]) -> list[Subscription]:
        async with session_factory(self.url)() as s:
            rows = (await s.execute(select(SubscriptionRow).where(SubscriptionRow.status.in_(statuses)))).scalars()
            return [_out(r) for r in rows]

    async def claim_renewal(self, tenant_id: str, period: str, stale_after: timedelta) -> bool:
        """Claim the renewal charge of one period; False when it was made or is being made.

        A claim without a payment older than ``stale_after`` (a sweeper that died mid-charge) may
        be claimed again: the charge's idempotency key names the period, so the provider answers
        the retry with the first attempt's payment.
        """
        try:
            async with transaction(self.url) as s:
                s.add(RenewalRow(tenant_id=tenant_id, period=period, claimed_at=utcnow()))
            return True
        except IntegrityError:  # claimed before (or by another sweeper just now)
            pass
        stale = (
            update(RenewalRow)
            .where(
                RenewalRow.tenant_id == tenant_id,
                RenewalRow.period == period,
                RenewalRow.payment_id.is_(None),
                RenewalRow.claimed_at < utcnow() - stale_after,
            )
            .values(claimed_at=utcnow())
        )
        async with transaction(self.url) as s:
            return (await s.execute(stale)).rowcount == 1

    async def renewal_made(self, tenant_id: str, period: str, payment_id: str | None) -> None:
        """Record the renewal's payment, or (``None``: the charge failed to start) release the claim."""
        async with transaction(self.url) as s:
            row = await s.get(RenewalRow, (tenant_id, period))
            if row is None:
                return
            if payment_id is None:
                await s.delete(row)
            else:
                row.payment_id = payment_id

    async def grant(self, tenant_id: str, plan: str) -> Subscription:
        """A plan the operator gives without payment (the installation's own tenant); keeps any existing one."""
        async with transaction(self.url) as s:
            row = await s.get(SubscriptionRow, tenant_id)
            if row is None:
                row = SubscriptionRow(
                    tenant_id=tenant_id, plan=plan, status="active", provider="operator", updated_at=utcnow()
                )
                s.add(row)
            return _out(row)

    async def invoices(self, tenant_id: str) -> list[Invoice]:
        """The tenant's invoices, newest first."""
        q = select(InvoiceRow).where(InvoiceRow.tenant_id == tenant_id).order_by(InvoiceRow.updated_at.desc())
        async with session_factory(self.url)() as s:
            return [
                Invoice(r.tenant_id, r.provider, r.provider_ref, r.amount_minor, r.currency, r.status, r.url)
                for r in (await s.execute(q)).scalars()
            ]

    async def apply_event(
        self, provider: str, event_id: str, event_type: str, state: SubscriptionState | None, invoice: Invoice | None = None
    ) -> bool:
        """Record the event and apply the provider's current state (and invoice), once; False for a duplicate."""
        if state is not None and state.status not in STATUSES:
            raise ValueError(f"unknown subscription status {state.status!r}")
        try:
            async with transaction(self.url) as s:
                s.add(WebhookEventRow(provider=provider, event_id=event_id, event_type=event_type, received_at=utcnow()))
                await s.flush()  # a duplicate fails here, before any effect
                if state is not None:
                    row = await s.get(SubscriptionRow, state.tenant_id, with_for_update=True)
                    if row is None:
                        row = SubscriptionRow(tenant_id=state.tenant_id)
                        s.add(row)
                    if _older(state, row):
                        state = None
                if state is not None:
                    row.plan, row.status, row.provider, row.provider_ref = (
                        state.plan,
                        state.status,
                        state.provider,
                        state.provider_ref,
                    )
                    row.current_period_end, row.updated_at = state.current_period_end, utcnow()
                    row.provider_created_at = state.created_at or row.provider_created_at
                    row.cancel_at_period_end = state.cancel_at_period_end
                    if state.payment_method_ref:
                        row.payment_method_ref = state.payment_method_ref
                if invoice is not None:
                    inv = await s.get(InvoiceRow, invoice.id)
                    if inv is None:
                        inv = InvoiceRow(
                            id=invoice.id,
                            tenant_id=invoice.tenant_id,
                            provider=invoice.provider,
                            provider_ref=invoice.provider_ref,
                        )
                        s.add(inv)
                    inv.amount_minor, inv.currency, inv.status, inv.url = (
                        invoice.amount_minor,
                        invoice.currency,
                        invoice.status,
                        invoice.url,
                    )
                    inv.updated_at = utcnow()
        except IntegrityError:
            return False
        return True
