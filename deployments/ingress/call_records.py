"""A WebSocket call's record, kept like a modem call's: in the call history, screened at the door
(``screening/front_door.py``), recorded if the caller's consent allows, and handed to the message
desk when it ends (``message_state = pending``, in the record's own transaction)."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, replace

from infra.logging import get_logger
from infra.recordings import RecordingStore
from pipeline.session import CallSession, SessionConfig
from privacy.service import PrivacyService
from screening.front_door import FrontDoor
from telephony.call_store import CallStore

log = get_logger(__name__)


class CallRecordKeeper:
    def __init__(self, tenant_id: str | None, number: str | None, persona: str | None, call_id: str) -> None:
        self.tenant_id, self.number, self.persona, self.call_id = tenant_id, number, persona, call_id
        self.store = CallStore(tenant_id=tenant_id, line="websocket")
        self.screening: str | None = None
        self.saved = False

    async def start(self, config: SessionConfig) -> SessionConfig:
        """Write the call's row and return this call's lines (screened, asked, welcomed back)."""
        try:
            await self.store.call_started("inbound", self.number, self.persona, self.call_id, status="active")
            await self.store.call_answered(self.call_id)
            self.saved = True
        except Exception as exc:  # the database away: the call is still answered, just not kept
            log.warning("ingress.call_record_failed", call_id=self.call_id, error=type(exc).__name__)
        plan = await FrontDoor(tenant_id=self.tenant_id).plan(
            self.number, config.language, config.greeting, config.system_prompt, ask_strangers=self.number is not None
        )
        if plan.blocked:
            self.screening = "blocked"
        config = replace(config, **plan.session)
        if config.record_audio and not await self._may_record():
            config = replace(config, record_audio=False, recording_notice="")
        return config

    async def _may_record(self) -> bool:
        try:
            return await PrivacyService(tenant_id=self.tenant_id).recording_allowed(self.number)
        except Exception as exc:  # unknown consent: do not record rather than ignore a withdrawal
            log.warning("ingress.consent_unknown", call_id=self.call_id, error=type(exc).__name__)
            return False

    async def end(self, session: CallSession) -> None:
        if not self.saved:
            return
        ref = None
        recorder = session.recorder
        try:
            if recorder is not None and recorder.duration_s > 0:
                ref = await asyncio.to_thread(RecordingStore().write, self.call_id, recorder.wav(), self.tenant_id)
        except OSError:
            log.exception("ingress.recording_failed", call_id=self.call_id)
        try:
            await self.store.call_ended(
                self.call_id,
                session.record.end_reason or "ended",
                [asdict(t) for t in session.record.turns],
                session.record.barge_ins,
                ref,
                screening=self.screening,
            )
        except Exception:
            log.exception("ingress.call_record_failed", call_id=self.call_id)
