"""Messages for the owner: written by the desk with their outbox rows, read and marked by the owner.

A message and its deliveries (one per configured channel) are written in one transaction with
the call's ``message_state = done``; the unique ``call_id`` makes a second writer (another
replica, a restarted desk) fail rather than leave a second message.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from infra.crypto import DecryptionError, Keyring, open_text, seal_text
from infra.database import session_factory, transaction, utcnow
from infra.logging import get_logger
from infra.recordings import SealsPersonalData
from messages.models import DeliveryRow, MessageRow, aware

log = get_logger(__name__)
STATUSES = ("new", "read", "done")


def body_context(tenant_id: str | None, message_id: str) -> bytes:
    return f"message|{tenant_id or ''}|{message_id}".encode()


def open_body(keyring: Keyring, row: MessageRow) -> dict[str, Any]:
    try:
        return json.loads(open_text(keyring, row.body_sealed, body_context(row.tenant_id, row.id)))
    except (DecryptionError, ValueError):
        log.warning("messages.body_undecryptable", message_id=row.id)
        return {}


@dataclass(frozen=True)
class NewMessage:
    call_id: str
    persona: str | None
    language: str
    number: str | None
    number_hash: str | None
    number_masked: str
    body: dict[str, Any]  # caller_name, reason, summary, callback_text, category_reason, …
    intent: str
    urgency: str
    callback_at: datetime | None
    screened: str | None
    screened_reason: str | None
    extracted_by: str


class MessageNotFound(LookupError):
    pass


class MessageStore(SealsPersonalData):
    def __init__(self, url: str | None = None, tenant_id: str | None = None, keyring: Keyring | None = None) -> None:
        """``tenant_id`` None: the operator, who sees every tenant's messages."""
        self.url, self.tenant_id = url, tenant_id
        self._keyring = keyring

    def add(self, s, tenant_id: str | None, new: NewMessage, channels: list[str]) -> MessageRow:
        """Within transaction ``s``: the message and a pending delivery per channel (none if screened)."""
        message_id = uuid.uuid4().hex
        now = utcnow()
        body = {**new.body, "number": new.number}
        row = MessageRow(
            id=message_id,
            tenant_id=tenant_id,
            call_id=new.call_id,
            persona=new.persona,
            language=new.language,
            number_hash=new.number_hash,
            number_masked=new.number_masked,
            body_sealed=seal_text(self.keyring, json.dumps(body, ensure_ascii=False), body_context(tenant_id, message_id)),
            intent=new.intent,
            urgency=new.urgency,
            callback_at=new.callback_at,
            status="new",
            screened=new.screened,
            screened_reason=new.screened_reason,
            extracted_by=new.extracted_by,
            created_at=now,
        )
        s.add(row)
        if new.screened is None:
            for channel in channels:
                s.add(self.delivery(tenant_id, message_id, channel, now))
        return row

    @staticmethod
    def delivery(tenant_id: str | None, message_id: str, channel: str, now: datetime) -> DeliveryRow:
        return DeliveryRow(
            tenant_id=tenant_id,
            message_id=message_id,
            channel=channel,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )

    def as_dict(self, row: MessageRow, deliveries: list[DeliveryRow] | None = None) -> dict[str, Any]:
        body = open_body(self.keyring, row)
        d = {
            "id": row.id,
            "call_id": row.call_id,
            "persona": row.persona,
            "language": row.language,
            "caller_name": body.get("caller_name"),
            "number": body.get("number"),
            "number_masked": row.number_masked,
            "reason": body.get("reason"),
            "intent": row.intent,
            "callback_at": aware(row.callback_at).isoformat() if row.callback_at else None,
            "callback_text": body.get("callback_text"),
            "urgency": row.urgency,
            "summary": body.get("summary"),
            "status": row.status,
            "screened": row.screened,
            "screened_reason": row.screened_reason,
            "extracted_by": row.extracted_by,
            "created_at": aware(row.created_at).isoformat() if row.created_at else None,
            "call_url": f"/admin/calls/{row.call_id}",
        }
        if deliveries is not None:
            d["deliveries"] = [
                {
                    "channel": x.channel,
                    "status": x.status,
                    "attempts": x.attempts,
                    "last_error": x.last_error,
                    "sent_at": aware(x.sent_at).isoformat() if x.sent_at else None,
                }
                for x in sorted(deliveries, key=lambda x: x.channel)
            ]
        return d

    def _scoped(self, q):
        return q if self.tenant_id is None else q.where(MessageRow.tenant_id == self.tenant_id)

    async def list(
        self, screened: bool = False, status: str | None = None, limit: int = 20, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        q = self._scoped(select(MessageRow))
        q = q.where(MessageRow.screened.is_not(None) if screened else MessageRow.screened.is_(None))
        if status:
            q = q.where(MessageRow.status == status)
        async with session_factory(self.url)() as s:
            total = (await s.execute(select(func.count()).select_from(q.subquery()))).scalar_one()
            rows = (
                await s.execute(q.order_by(MessageRow.created_at.desc(), MessageRow.id).limit(limit).offset(offset))
            ).scalars()
            return [self.as_dict(r) for r in rows], total

    async def _row(self, s, message_id: str) -> MessageRow:
        row = await s.get(MessageRow, message_id)
        if row is None or (self.tenant_id is not None and row.tenant_id != self.tenant_id):
            raise MessageNotFound(message_id)  # another tenant's message is as absent as a missing one
        return row

    async def get(self, message_id: str) -> dict[str, Any]:
        async with session_factory(self.url)() as s:
            row = await self._row(s, message_id)
            deliveries = list((await s.execute(select(DeliveryRow).where(DeliveryRow.message_id == row.id))).scalars())
            return self.as_dict(row, deliveries)

    async def by_call(self, call_id: str) -> dict[str, Any] | None:
        async with session_factory(self.url)() as s:
            row = (
                await s.execute(self._scoped(select(MessageRow).where(MessageRow.call_id == call_id)))
            ).scalar_one_or_none()
            if row is None:
                return None
            deliveries = list((await s.execute(select(DeliveryRow).where(DeliveryRow.message_id == row.id))).scalars())
            return self.as_dict(row, deliveries)

    async def set_status(self, message_id: str, status: str) -> dict[str, Any]:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}")
        async with transaction(self.url) as s:
            row = await self._row(s, message_id)
            row.status = status
            return self.as_dict(row)

    async def correct(self, message_id: str, verdict: str, channels_for) -> Correction:
        """The owner's verdict on a call: ``legit`` releases a screened message to the channels
        (``await channels_for(tenant_id)``); ``spam`` or ``sales`` screens it and cancels what
        was not sent yet. The correction says which list the number goes on."""
        if verdict not in ("legit", "spam", "sales"):
            raise ValueError("verdict must be legit, spam or sales")
        async with session_factory(self.url)() as s:
            tenant_id = (await self._row(s, message_id)).tenant_id
        channels = await channels_for(tenant_id)
        async with transaction(self.url) as s:
            row = await self._row(s, message_id)
            now = utcnow()
            if verdict == "legit":
                if row.screened is not None:
                    row.screened, row.screened_reason, row.status = None, "released by the owner", "new"
                    have = set(
                        (await s.execute(select(DeliveryRow.channel).where(DeliveryRow.message_id == row.id))).scalars()
                    )
                    for channel in channels:
                        if channel not in have:
                            s.add(self.delivery(row.tenant_id, row.id, channel, now))
            else:
                row.screened, row.screened_reason = verdict, "marked by the owner"
                pending = select(DeliveryRow).where(DeliveryRow.message_id == row.id, DeliveryRow.status == "pending")
                for d in (await s.execute(pending)).scalars():
                    d.status, d.last_error = "cancelled", "screened by the owner"
            list_ = ("allow" if verdict == "legit" else "block") if row.number_hash else None
            return Correction(self.as_dict(row), row.tenant_id, row.number_hash, row.number_masked, list_)


@dataclass(frozen=True)
class Correction:
    message: dict[str, Any]
    tenant_id: str | None
    number_hash: str | None
    number_masked: str
    list: str | None  # the list the number goes on; None for a hidden number
