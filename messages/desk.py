"""The message desk: turns ended calls into messages for the owner, then sends them.

It reads the calls the telephony and the WebSocket ingress marked ``message_state = pending``
(in the call's own transaction), decides whether the call was screened (blocked number, robocall,
spam or sales), takes the message with the persona's model (``messages/extract.py``), and writes
the message, its outbox rows and the caller's memory in one transaction that also marks the call
``done``. The outbox (``messages/outbox.py``) then delivers. Both are safe to run in several
replicas at once and to kill at any point.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from infra.database import session_factory, transaction
from infra.logging import get_logger
from messages.caller_memory import CallerMemory
from messages.delivery_settings import DeliverySettings
from messages.extract import Complete, extract
from messages.metrics import CALLS_SCREENED, MESSAGES_CREATED
from messages.models import aware
from messages.outbox import Outbox
from messages.store import MessageStore, NewMessage
from screening.lists import ScreeningLists
from screening.robocall import robocall_reason
from telephony.call_store import CallRow, CallStore

log = get_logger(__name__)
BUSY_REASON = {"en": "called while the line was busy", "ru": "звонил(а), когда линия была занята"}
NO_WORDS_REASON = {"en": "hung up without leaving a message", "ru": "положил(а) трубку, не оставив сообщения"}


class MessageDesk:
    def __init__(
        self,
        outbox: Outbox,
        complete_for: Callable[[str], Complete | None] = lambda _language: None,
        url: str | None = None,
        personas: Callable[[str | None], Any] | None = None,
    ) -> None:
        """``complete_for(language)``: the persona model for that language (None: rules only);
        ``personas(tenant_id)``: that tenant's persona registry (None: the call's language is "en")."""
        self.outbox, self.complete_for, self.url, self.personas = outbox, complete_for, url, personas
        self.settings = DeliverySettings(url)

    async def run_once(self) -> tuple[int, int]:
        """One round: messages taken from ended calls, deliveries attempted."""
        made = await self.process_calls()
        sent = await self.outbox.run_once()
        return made, sent

    async def process_calls(self, limit: int = 10) -> int:
        async with session_factory(self.url)() as s:
            q = select(CallRow.id).where(CallRow.message_state == "pending").order_by(CallRow.ended_at).limit(limit)
            ids = list((await s.execute(q)).scalars())
        made = 0
        for call_id in ids:
            try:
                made += await self.take_message(call_id)
            except Exception:  # one bad call must not hold up the others; it stays pending
                log.exception("messages.take_failed", call_id=call_id)
        return made

    async def _persona(self, tenant_id: str | None, name: str | None):
        if self.personas is None or not name:
            return None
        try:
            return await self.personas(tenant_id).get(name)
        except Exception:  # gone or unreadable: the message is still taken, in English
            return None

    async def take_message(self, call_id: str) -> int:
        async with session_factory(self.url)() as s:
            row = await s.get(CallRow, call_id)
        if row is None or row.message_state != "pending":
            return 0
        store = CallStore(self.url, row.tenant_id)
        transcript, number = store.transcript_of(row), store.clear_number(row)
        persona = await self._persona(row.tenant_id, row.persona)
        language = persona.language if persona is not None else "en"
        tz = ZoneInfo(persona.timezone if persona is not None else "UTC")
        now = (aware(row.ended_at) or aware(row.started_at)).astimezone(tz)
        screened = screened_reason = None
        body: dict[str, Any] = {}
        intent, urgency, callback_at, by = "other", "normal", None, "rules"
        caller_turns = [t for t in transcript if t.get("speaker") == "caller" and t.get("text")]
        robot = robocall_reason(row.end_reason, transcript)
        if row.screening == "blocked":
            screened, screened_reason = "blocked", "the number is on the block list"
        elif robot is not None:
            screened, screened_reason = "robocall", robot
        elif row.end_reason == "busy" or not caller_turns:
            reason = (BUSY_REASON if row.end_reason == "busy" else NO_WORDS_REASON)[language if language == "ru" else "en"]
            intent = "callback"
            body = {"caller_name": None, "reason": reason, "summary": reason[0].upper() + reason[1:] + "."}
        else:
            ex = await extract(transcript, language, now, self.complete_for(language))
            intent, urgency, callback_at, by = ex.intent, ex.urgency, ex.callback_at, ex.extracted_by
            body = {
                "caller_name": ex.caller_name,
                "reason": ex.reason,
                "summary": ex.summary,
                "callback_text": ex.callback_text,
                "category": ex.category,
            }
            if ex.category in ("spam", "sales"):
                if await ScreeningLists(self.url, row.tenant_id).lookup(number) == "allow":
                    body["category_overridden"] = "the number is on the allow list"
                else:
                    screened, screened_reason = ex.category, ex.category_reason
        new = NewMessage(
            call_id=row.id,
            persona=row.persona,
            language=language,
            number=number,
            number_hash=row.number_hash,
            number_masked=row.number_masked,
            body=body,
            intent=intent,
            urgency=urgency,
            callback_at=callback_at.astimezone(UTC) if callback_at else None,
            screened=screened,
            screened_reason=screened_reason,
            extracted_by=by,
        )
        channels = (await self.settings.get(row.tenant_id)).enabled
        memory = CallerMemory(self.url, row.tenant_id)
        try:
            async with transaction(self.url) as s:
                call = await s.get(CallRow, call_id)
                if call is None or call.message_state != "pending":
                    return 0  # another desk took it meanwhile
                message = MessageStore(self.url).add(s, row.tenant_id, new, channels)
                if screened is None:
                    await memory.remember(s, row.number_hash, body.get("caller_name"), message.id)
                call.message_state = "done"
        except IntegrityError:  # another desk wrote this call's message first
            async with transaction(self.url) as s:
                call = await s.get(CallRow, call_id)
                if call is not None:
                    call.message_state = "done"
            return 0
        MESSAGES_CREATED.inc(1, persona=row.persona or "-", outcome="screened" if screened else "message")
        if screened:
            CALLS_SCREENED.inc(1, reason=screened)
        log.info(
            "messages.taken",
            call_id=call_id,
            message_id=message.id,
            screened=screened,
            extracted_by=by,
            channels=len(channels) if not screened else 0,
        )
        return 1


def handle_complete(handle: Any) -> Complete:
    """A ``Complete`` over an LLM deployment's handle: the reply's text, whole."""

    async def complete(messages: list[dict[str, str]], options: dict[str, Any]) -> str:
        gen = handle.options(stream=True).chat.remote(messages, options, None, None)
        return "".join([d["text"] async for d in gen])

    return complete
