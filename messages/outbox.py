"""The outbox: every message reaches every channel once, retried with backoff, visible when it fails.

A delivery row is written with its message (``messages/store.py``). A worker claims a due row
with one conditional ``UPDATE`` (``pending`` and due, or ``sending`` with its lease run out), so of
several workers, replicas or restarts exactly one holds it; it then sends and records the result.

What a crash does:
- after the message was saved, before any send: the row is ``pending`` and the next worker sends
  it; nothing is lost and nothing was sent yet;
- after a claim, before the send: the lease runs out and another worker sends it, once;
- after the channel took it, before the result was written: the lease runs out and it is sent
  again. This window is the time of one database commit; the e-mail's ``Message-ID`` is stable,
  so mail clients fold such a repeat into one message.

Quiet hours hold non-urgent messages until they end (a held row is not an attempt).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select, update

from infra.database import session_factory, transaction, utcnow
from infra.logging import get_logger
from infra.recordings import RecordingStore
from messages.channels.base import Channel, DeliveryFailed, DeliveryRefused, Notification
from messages.delivery_settings import DeliverySettings
from messages.metrics import DELIVERIES, NOTIFY_SECONDS
from messages.models import DeliveryRow, MessageRow, aware
from messages.store import MessageStore
from telephony.call_store import CallRow

log = get_logger(__name__)
MAX_BACKOFF_S = 3600.0
QUIET_HOLD = "held for quiet hours"  # a delivery waiting on purpose, not a failure


@dataclass
class Claimed:
    id: int
    message_id: str
    channel: str
    attempts: int
    tenant_id: str | None


class Outbox:
    def __init__(
        self,
        channels: dict[str, Channel],
        url: str | None = None,
        max_attempts: int = 10,
        backoff_s: float = 15.0,
        lease_s: float = 120.0,
        recordings: RecordingStore | None = None,
        ended_at=None,
    ) -> None:
        """``ended_at``: ``async (call_id) -> datetime | None``, for the time-to-notify metric."""
        self.channels, self.url = channels, url
        self.max_attempts, self.backoff_s, self.lease_s = max_attempts, backoff_s, lease_s
        self.settings = DeliverySettings(url)
        self.messages = MessageStore(url)
        self.recordings = recordings
        self.ended_at = ended_at

    def _due(self, now: datetime):
        return or_(
            and_(DeliveryRow.status == "pending", DeliveryRow.next_attempt_at <= now),
            and_(DeliveryRow.status == "sending", DeliveryRow.lease_until < now),
        )

    async def claim(self, limit: int = 20) -> list[Claimed]:
        """Take up to ``limit`` due deliveries for this worker (each by one conditional update)."""
        now = utcnow()
        async with session_factory(self.url)() as s:
            ids = list(
                (
                    await s.execute(
                        select(DeliveryRow.id).where(self._due(now)).order_by(DeliveryRow.next_attempt_at).limit(limit)
                    )
                ).scalars()
            )
        claimed = []
        for delivery_id in ids:
            async with transaction(self.url) as s:
                taken = await s.execute(
                    update(DeliveryRow)
                    .where(DeliveryRow.id == delivery_id, self._due(now))
                    .values(
                        status="sending",
                        lease_until=now + timedelta(seconds=self.lease_s),
                        attempts=DeliveryRow.attempts + 1,
                    )
                )
                if taken.rowcount != 1:
                    continue  # another worker was first
                row = await s.get(DeliveryRow, delivery_id)
                claimed.append(Claimed(row.id, row.message_id, row.channel, row.attempts, row.tenant_id))
        return claimed

    async def deliver(self, c: Claimed) -> str:
        """Send one claimed delivery; returns its new status."""
        async with session_factory(self.url)() as s:
            msg_row = await s.get(MessageRow, c.message_id)
            message = self.messages.as_dict(msg_row) if msg_row is not None else None
        if message is None or msg_row.screened is not None:
            return await self._finish(c, "cancelled", "the message was screened or erased")
        channels = await self.settings.get(c.tenant_id)
        if message["urgency"] != "high" and (until := channels.quiet_until(utcnow())) is not None:
            await self._hold(c, until)
            return "pending"
        channel = self.channels.get(c.channel)
        try:
            if channel is None:
                raise DeliveryRefused(f"the {c.channel} channel is not available on this installation")
            note = Notification(c.id, c.tenant_id, message, channels, lambda: self._recording(msg_row))
            await channel.send(note)
        except DeliveryRefused as exc:
            DELIVERIES.inc(1, channel=c.channel, result="failed")
            log.warning("messages.delivery_refused", delivery=c.id, channel=c.channel, error=str(exc))
            return await self._finish(c, "failed", str(exc))
        except Exception as exc:
            final = c.attempts >= self.max_attempts
            DELIVERIES.inc(1, channel=c.channel, result="failed" if final else "retry")
            error = str(exc) if isinstance(exc, DeliveryFailed) else f"{type(exc).__name__}: {exc}"
            log.warning("messages.delivery_failed", delivery=c.id, channel=c.channel, attempt=c.attempts, error=error)
            if final:
                return await self._finish(c, "failed", error)
            delay = min(MAX_BACKOFF_S, self.backoff_s * 2 ** (c.attempts - 1))
            await self._retry(c, error, utcnow() + timedelta(seconds=delay))
            return "pending"
        DELIVERIES.inc(1, channel=c.channel, result="sent")
        await self._finish(c, "sent", None)
        if self.ended_at is not None:
            ended = aware(await self.ended_at(message["call_id"]))
            if ended is not None:
                NOTIFY_SECONDS.observe((utcnow() - ended).total_seconds(), channel=c.channel)
        log.info("messages.delivered", delivery=c.id, channel=c.channel, message_id=c.message_id, attempt=c.attempts)
        return "sent"

    async def run_once(self, limit: int = 20) -> int:
        """Claim and send what is due; returns how many deliveries were attempted."""
        claimed = await self.claim(limit)
        for c in claimed:
            try:
                await self.deliver(c)
            except Exception:  # the database away mid-way: the lease brings it back
                log.exception("messages.delivery_crashed", delivery=c.id)
        return len(claimed)

    async def _recording(self, msg_row: MessageRow) -> bytes | None:
        if self.recordings is None:
            return None
        async with session_factory(self.url)() as s:
            call = await s.get(CallRow, msg_row.call_id)
        if call is None or not call.recording_ref:
            return None  # not recorded (no consent), or erased
        try:
            return await asyncio.to_thread(self.recordings.read, call.recording_ref)
        except (OSError, ValueError) as exc:
            log.warning("messages.recording_unreadable", call_id=call.id, error=type(exc).__name__)
            return None

    async def _finish(self, c: Claimed, status: str, error: str | None) -> str:
        async with transaction(self.url) as s:
            row = await s.get(DeliveryRow, c.id)
            row.status, row.lease_until = status, None
            row.last_error = error[:500] if error else row.last_error
            if status == "sent":
                row.sent_at = utcnow()
        return status

    async def _retry(self, c: Claimed, error: str, at: datetime) -> None:
        async with transaction(self.url) as s:
            row = await s.get(DeliveryRow, c.id)
            row.status, row.lease_until, row.last_error, row.next_attempt_at = "pending", None, error[:500], at

    async def _hold(self, c: Claimed, until: datetime) -> None:
        async with transaction(self.url) as s:
            row = await s.get(DeliveryRow, c.id)
            row.status, row.lease_until, row.next_attempt_at = "pending", None, until.astimezone(UTC)
            row.attempts = max(0, row.attempts - 1)  # waiting out quiet hours is not a failed attempt
            row.last_error = QUIET_HOLD

    async def failures(self, tenant_id: str | None, limit: int = 50) -> list[dict]:
        """Deliveries that failed for good or wait to be retried, newest first (the owner's view);
        not those held for quiet hours or cancelled by the owner's verdict."""
        retrying = and_(
            DeliveryRow.status == "pending", DeliveryRow.last_error.is_not(None), DeliveryRow.last_error != QUIET_HOLD
        )
        q = select(DeliveryRow).where(or_(DeliveryRow.status == "failed", retrying))
        if tenant_id is not None:
            q = q.where(DeliveryRow.tenant_id == tenant_id)
        async with session_factory(self.url)() as s:
            rows = (await s.execute(q.order_by(DeliveryRow.created_at.desc()).limit(limit))).scalars()
            return [
                {
                    "message_id": r.message_id,
                    "channel": r.channel,
                    "status": r.status,
                    "attempts": r.attempts,
                    "last_error": r.last_error,
                    "next_attempt_at": aware(r.next_attempt_at).isoformat() if r.status == "pending" else None,
                }
                for r in rows
            ]
