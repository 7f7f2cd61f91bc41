"""Subscriptions and their lifecycle: trial → active ⇄ past due → suspended, and cancelled.

A subscription's state follows the payment provider's own object, re-read from its API when a
notification arrives: the provider is the source of truth, so events that come twice or out of
order converge on the same state. Every notification is recorded once (``webhook_events``,
keyed by provider and event id) in the same transaction as its effect, so concurrent duplicate
deliveries have exactly one effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from infra.database import Base, session_factory, transaction, utcnow

STATUSES = ("trial", "active", "past_due", "suspended", "cancelled")


class SubscriptionRow(Base):
    __tablename__ = "subscriptions"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    plan: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str | None] = mapped_column(String(16))
    provider_ref: Mapped[str | None] = mapped_column(String(128), index=True)
    current_period_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    payment_method_ref: Mapped[str | None] = mapped_column(String(128))  # a saved method, for renewals
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebhookEventRow(Base):
    __tablename__ = "webhook_events"

    provider: Mapped[str] = mapped_column(String(16), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


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


def _out(row: SubscriptionRow) -> Subscription:
    return Subscription(
        row.tenant_id, row.plan, row.status, row.provider, row.provider_ref, row.current_period_end, row.payment_method_ref
    )


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

    async def start_trial(self, tenant_id: str, plan: str) -> Subscription:
        async with transaction(self.url) as s:
            row = await s.get(SubscriptionRow, tenant_id)
            if row is None:
                row = SubscriptionRow(tenant_id=tenant_id, plan=plan, status="trial", updated_at=utcnow())
                s.add(row)
            return _out(row)

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
                    row = await s.get(SubscriptionRow, state.tenant_id)
                    if row is None:
                        row = SubscriptionRow(tenant_id=state.tenant_id)
                        s.add(row)
                    row.plan, row.status, row.provider, row.provider_ref = (
                        state.plan,
                        state.status,
                        state.provider,
                        state.provider_ref,
                    )
                    row.current_period_end, row.updated_at = state.current_period_end, utcnow()
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
