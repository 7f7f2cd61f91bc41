"""The tables of messages and their delivery: ``messages``, ``message_deliveries`` (the outbox),
``delivery_settings`` (each tenant's channels and quiet hours) and ``callers`` (caller memory). The screening lists are
``screening/lists.py``'s.

Personal data is sealed (``infra/crypto.py``, a data key per row bound to tenant and row): the
message's body (name, number, reason, summary), a caller's remembered name, a channel's bot token
and the owner's mobile. What stays clear is what queries need: state, intent, urgency, times and
the number's keyed hash.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from infra.database import Base, utcnow


class MessageRow(Base):
    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str | None] = mapped_column(String(64), index=True)
    call_id: Mapped[str] = mapped_column(String(32), unique=True)  # one message per call, whoever writes it
    persona: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    number_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    number_masked: Mapped[str] = mapped_column(String(32))
    body_sealed: Mapped[str] = mapped_column(Text)  # JSON: caller_name, number, reason, summary, callback_text
    intent: Mapped[str] = mapped_column(String(16))  # callback | meeting | information | other
    urgency: Mapped[str] = mapped_column(String(8))  # low | normal | high
    callback_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(8), default="new")  # new | read | done
    # None: a message for the owner. Otherwise why it was screened: blocked | robocall | spam | sales.
    screened: Mapped[str | None] = mapped_column(String(16), index=True)
    screened_reason: Mapped[str | None] = mapped_column(String(200))
    extracted_by: Mapped[str] = mapped_column(String(16))  # "llm", "rules" or "llm+rules"
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class DeliveryRow(Base):
    """One message on one channel: written with the message, in its transaction (the outbox)."""

    __tablename__ = "message_deliveries"
    __table_args__ = (UniqueConstraint("message_id", "channel", name="uq_delivery_message_channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str | None] = mapped_column(String(64), index=True)
    message_id: Mapped[str] = mapped_column(String(32), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # email | telegram | sms
    status: Mapped[str] = mapped_column(String(12), index=True)  # pending | sending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DeliverySettingsRow(Base):
    """A tenant's channels; ``tenant_key`` is the tenant id, or "" for the installation's own line."""

    __tablename__ = "delivery_settings"

    tenant_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(254))
    telegram_chat_id: Mapped[str | None] = mapped_column(String(64))
    telegram_token_sealed: Mapped[str | None] = mapped_column(Text)
    sms_number_sealed: Mapped[str | None] = mapped_column(Text)
    sms_number_masked: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8), default="en")  # of the notifications
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Moscow")
    quiet_start: Mapped[str | None] = mapped_column(String(5))  # "22:00"
    quiet_end: Mapped[str | None] = mapped_column(String(5))  # "08:00"
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CallerRow(Base):
    """What the secretary remembers of a caller, per tenant: erased with the caller's data."""

    __tablename__ = "callers"

    tenant_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    number_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_sealed: Mapped[str | None] = mapped_column(Text)
    last_message_id: Mapped[str | None] = mapped_column(String(32))
    calls: Mapped[int] = mapped_column(Integer, default=0)
    last_call_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def aware(t: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every one we write is UTC."""
    return t.replace(tzinfo=UTC) if t is not None and t.tzinfo is None else t


def tenant_key(tenant_id: str | None) -> str:
    return tenant_id or ""
