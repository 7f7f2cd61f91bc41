"""Call and SMS records: the ``calls`` and ``sms_messages`` tables and the queries the admin API needs.

Numbers are stored masked plus as a keyed hash (see :mod:`infra.pii`). A call row is written once
when the call starts (so a crash still leaves a trace) and completed when it ends; the transcript
is the session's turn list as JSON, sealed like SMS bodies (see ``CallStore``).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, mapped_column

from infra.crypto import DecryptionError, Keyring, open_text, seal_text
from infra.database import Base, session_factory, transaction, utcnow
from infra.logging import get_logger
from infra.pii import mask_number, number_hash
from infra.recordings import SealsPersonalData
from telephony import call_metrics

log = get_logger(__name__)


class CallRow(Base):
    __tablename__ = "calls"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str | None] = mapped_column(String(64), index=True)
    direction: Mapped[str] = mapped_column(String(8))  # "inbound" | "outbound"
    number_masked: Mapped[str] = mapped_column(String(32))
    number_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    persona: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # "ringing" | "active" | "ended"
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration_s: Mapped[float | None] = mapped_column(Float)
    end_reason: Mapped[str | None] = mapped_column(String(32))
    transcript: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # legacy rows only: clear
    transcript_sealed: Mapped[str | None] = mapped_column(Text)  # infra.crypto.seal_text of the JSON turns
    turns: Mapped[int] = mapped_column(Integer, default=0)
    barge_ins: Mapped[int] = mapped_column(Integer, default=0)
    recording_ref: Mapped[str | None] = mapped_column(String(255))
    number_sealed: Mapped[str | None] = mapped_column(Text)  # the clear number, for the owner's message
    # "pending": ended and waiting for the message desk (messages/desk.py), set in the call's own
    # transaction so that a crash right after the call loses no message; then "done".
    message_state: Mapped[str | None] = mapped_column(String(12), index=True)
    screening: Mapped[str | None] = mapped_column(String(16))  # screened before answering: "blocked"
    # The way the call came: "websocket", or the modem line that carried it ("modem" for the
    # profile's one line). A line's restart or loss closes only that line's calls.
    line: Mapped[str | None] = mapped_column(String(32), index=True)


class SmsRow(Base):
    __tablename__ = "sms_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str | None] = mapped_column(String(64), index=True)
    direction: Mapped[str] = mapped_column(String(8))
    number_masked: Mapped[str] = mapped_column(String(32))
    number_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    text: Mapped[str] = mapped_column(Text)  # legacy rows only: clear ("" once sealed)
    text_sealed: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    reply_to: Mapped[int | None] = mapped_column(Integer)


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


def transcript_context(tenant_id: str | None, call_id: str) -> bytes:
    return f"transcript|{tenant_id or ''}|{call_id}".encode()


def number_context(tenant_id: str | None, call_id: str) -> bytes:
    return f"call-number|{tenant_id or ''}|{call_id}".encode()


def sms_context(tenant_id: str | None, sms_id: int) -> bytes:
    return f"sms|{tenant_id or ''}|{sms_id}".encode()


class CallStore(SealsPersonalData):
    """All reads and writes of call and SMS records; one instance per process is enough.

    Transcripts and SMS bodies are sealed at rest with the recordings' keyring (``infra/crypto.py``:
    a data key per record, wrapped by the master key, bound to tenant and record), so a database
    dump or backup shows neither; rows written before sealing was introduced are read as they are.
    """

    def __init__(
        self, url: str | None = None, tenant_id: str | None = None, keyring: Keyring | None = None, line: str | None = None
    ) -> None:
        self.url, self.tenant_id, self.line = url, tenant_id, line
        self._keyring = keyring

    def transcript_of(self, row: CallRow) -> list[dict[str, Any]]:
        if row.transcript_sealed is None:
            return row.transcript or []
        try:
            return json.loads(open_text(self.keyring, row.transcript_sealed, transcript_context(row.tenant_id, row.id)))
        except DecryptionError:
            log.warning("calls.transcript_undecryptable", call_id=row.id)
            return []

    def _sms_text(self, row: SmsRow) -> str:
        if row.text_sealed is None:
            return row.text
        try:
            return open_text(self.keyring, row.text_sealed, sms_context(row.tenant_id, row.id))
        except DecryptionError:
            log.warning("calls.sms_undecryptable", sms_id=row.id)
            return ""

    def _call_dict(self, row: CallRow) -> dict[str, Any]:
        return {
            "id": row.id,
            "direction": row.direction,
            "line": row.line,
            "number": row.number_masked,
            "persona": row.persona,
            "status": row.status,
            "started_at": row.started_at.isoformat() if row.started_at else None,
            "answered_at": row.answered_at.isoformat() if row.answered_at else None,
            "ended_at": row.ended_at.isoformat() if row.ended_at else None,
            "duration_s": row.duration_s,
            "end_reason": row.end_reason,
            "turns": row.turns,
            "barge_ins": row.barge_ins,
            "transcript": self.transcript_of(row),
            "recording_ref": row.recording_ref,
            "screening": row.screening,
        }

    def _sms_dict(self, row: SmsRow) -> dict[str, Any]:
        return {
            "id": row.id,
            "direction": row.direction,
            "number": row.number_masked,
            "text": self._sms_text(row),
            "at": row.at.isoformat() if row.at else None,
            "reply_to": row.reply_to,
        }

    async def call_started(
        self, direction: str, number: str | None, persona: str | None, call_id: str | None = None, status: str = "ringing"
    ) -> str:
        call_id = call_id or uuid.uuid4().hex
        async with transaction(self.url) as s:
            s.add(
                CallRow(
                    id=call_id,
                    tenant_id=self.tenant_id,
                    direction=direction,
                    number_masked=mask_number(number),
                    number_hash=number_hash(number),
                    persona=persona,
                    status=status,
                    line=self.line,
                    started_at=utcnow(),
                    transcript=[],
                    number_sealed=seal_text(self.keyring, number, number_context(self.tenant_id, call_id))
                    if number
                    else None,
                )
            )
        call_metrics.call_began(direction)
        return call_id

    def clear_number(self, row: CallRow) -> str | None:
        """The caller's number as dialled, for the owner's message (None for rows from before 0.17)."""
        if row.number_sealed is None:
            return None
        try:
            return open_text(self.keyring, row.number_sealed, number_context(row.tenant_id, row.id))
        except DecryptionError:
            log.warning("calls.number_undecryptable", call_id=row.id)
            return None

    async def call_answered(self, call_id: str) -> None:
        async with transaction(self.url) as s:
            row = await s.get(CallRow, call_id)
            if row is not None:
                row.status, row.answered_at = "active", utcnow()

    async def call_ended(
        self,
        call_id: str,
        end_reason: str,
        transcript: list[dict[str, Any]] | None = None,
        barge_ins: int = 0,
        recording_ref: str | None = None,
        screening: str | None = None,
        message: bool = True,
    ) -> None:
        """Complete the record. ``message``: the call goes to the message desk (answered, screened,
        or turned away busy: the owner hears of it); in this same transaction, so none is lost."""
        async with transaction(self.url) as s:
            row = await s.get(CallRow, call_id)
            if row is None:
                return
            now = utcnow()
            row.status, row.ended_at, row.end_reason = "ended", now, end_reason
            if row.answered_at is not None:
                answered = row.answered_at if row.answered_at.tzinfo else row.answered_at.replace(tzinfo=now.tzinfo)
                row.duration_s = round((now - answered).total_seconds(), 2)
            else:
                row.duration_s = 0.0
            turns = transcript or []
            row.transcript = []
            row.transcript_sealed = seal_text(
                self.keyring, json.dumps(turns, ensure_ascii=False), transcript_context(row.tenant_id, row.id)
            )
            row.turns = len(turns)
            row.barge_ins = barge_ins
            row.recording_ref = recording_ref
            row.screening = screening
            if message and row.direction == "inbound" and (row.answered_at is not None or screening or end_reason == "busy"):
                row.message_state = "pending"
            outcome = call_metrics.call_outcome(row.answered_at is not None, end_reason, screening)
            direction, persona, talk_s = row.direction, row.persona, row.duration_s
        call_metrics.call_finished(direction, persona, outcome, talk_s)

    async def get_call(self, call_id: str) -> dict[str, Any] | None:
        async with session_factory(self.url)() as s:
            row = await s.get(CallRow, call_id)
            return self._call_dict(row) if row is not None and self._visible(row) else None

    async def list_calls(
        self, limit: int = 20, offset: int = 0, direction: str | None = None, status: str | None = None
    ) -> Page:
        q = select(CallRow)
        if self.tenant_id is not None:
            q = q.where(CallRow.tenant_id == self.tenant_id)
        if direction:
            q = q.where(CallRow.direction == direction)
        if status:
            q = q.where(CallRow.status == status)
        async with session_factory(self.url)() as s:
            total = (await s.execute(select(func.count()).select_from(q.subquery()))).scalar_one()
            rows = (await s.execute(q.order_by(CallRow.started_at.desc(), CallRow.id).limit(limit).offset(offset))).scalars()
            return Page([self._call_dict(r) for r in rows], total, limit, offset)

    async def close_dangling(self, reason: str = "ingress_restarted") -> int:
        """Calls left ringing/active by a crashed ingress are closed, so none stays stuck.

        Only this store's line: a modem line's restart must not end the tenant's WebSocket calls."""
        async with transaction(self.url) as s:
            q = select(CallRow).where(CallRow.status != "ended")
            if self.tenant_id is not None:
                q = q.where(CallRow.tenant_id == self.tenant_id)
            if self.line is not None:
                q = q.where(CallRow.line == self.line)
            rows = list((await s.execute(q)).scalars())
            now = utcnow()
            for row in rows:
                row.status, row.ended_at, row.end_reason = "ended", now, reason
        for row in rows:
            call_metrics.call_finished(row.direction, row.persona, call_metrics.call_outcome(False, reason, None), None)
        return len(rows)

    async def sms_saved(self, direction: str, number: str | None, text: str, reply_to: int | None = None) -> int:
        async with transaction(self.url) as s:
            row = SmsRow(
                tenant_id=self.tenant_id,
                direction=direction,
                number_masked=mask_number(number),
                number_hash=number_hash(number),
                text="",
                at=utcnow(),
                reply_to=reply_to,
            )
            s.add(row)
            await s.flush()  # the id binds the sealed text to this row
            row.text_sealed = seal_text(self.keyring, text, sms_context(row.tenant_id, row.id))
            return row.id

    async def list_sms(self, limit: int = 20, offset: int = 0) -> Page:
        q = select(SmsRow)
        if self.tenant_id is not None:
            q = q.where(SmsRow.tenant_id == self.tenant_id)
        async with session_factory(self.url)() as s:
            total = (await s.execute(select(func.count()).select_from(q.subquery()))).scalar_one()
            rows = (await s.execute(q.order_by(SmsRow.at.desc(), SmsRow.id.desc()).limit(limit).offset(offset))).scalars()
            return Page([self._sms_dict(r) for r in rows], total, limit, offset)

    def _visible(self, row: CallRow) -> bool:
        return self.tenant_id is None or row.tenant_id == self.tenant_id
