"""The modem ingress: owns one SIM7600, answers it, runs a call session per call, keeps records.

Plain asyncio so it runs the same inside the Ray actor (``telephony/ingress_actor.py``) and in
tests. Driver events are handled in order by one consumer task; slow work (answering, the
conversation, SMS) runs in tasks of its own. One modem carries one call: a second caller is
turned away busy (``AT+CHLD=0``) and logged, never allowed to disturb the call in progress.

Every call, answered or not, ends in exactly one finalisation that saves its record (end reason,
transcript, recording) and publishes ``call.ended``; a crash of the ingress itself is covered by
closing dangling rows on the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from infra.logging import get_logger
from infra.pii import mask_number
from infra.recordings import RecordingStore
from personas.registry import PersonaNotFound, PersonaRegistry
from personas.schemas import Persona
from pipeline.services import Allowance, CallServices
from pipeline.session import CallSession, SessionConfig
from telephony import call_metrics
from telephony.at_client import ATError, ATTimeout, PortClosed
from telephony.at_commands import CommandRejected
from telephony.call_bridge import CallBridge
from telephony.call_events import EventLog
from telephony.call_store import CallStore
from telephony.number_policy import NumberPolicy, PolicyRefusal
from telephony.sim7600 import (
    CallConnected,
    CallEnded,
    CallWaiting,
    DtmfReceived,
    IncomingCall,
    MissedCall,
    ModemEvent,
    ModemLost,
    ModemReady,
    Ring,
    SIM7600Driver,
    SmsReceived,
)

log = get_logger(__name__)
MODEM_ERRORS = (ATError, ATTimeout, PortClosed, OSError, TimeoutError)
# How the driver's end reasons read in a call record.
REMOTE_REASONS = {
    "remote_hangup": "caller_hangup",
    "modem_lost": "modem_lost",
    "busy": "busy",
    "no_answer": "no_answer",
    "no_carrier": "no_carrier",
    "no_dialtone": "no_dialtone",
}


class LineBusy(RuntimeError):
    """The modem already carries a call."""


@dataclass
class ModemIngressConfig:
    """The profile's ``modem`` block (ports are settings: they belong to the machine)."""

    answer_after_rings: int = 2
    persona: str = "anna"
    voice: str | None = None
    session: dict[str, Any] = field(default_factory=dict)  # SessionConfig fields (persona lines, timings)
    sms_auto_reply: bool = False
    sms_reply_prompt: str = "Reply to this text message in one or two short sentences, under 300 characters."
    sms_reply_max_chars: int = 300
    uplink_prime_frames: int = 2  # jitter cover in the modem's buffer (each frame: 20 ms of latency)
    # Niceness of the process whose event loop paces the uplink every 20 ms, all its threads (None:
    # as Ray started it, 15, the same as the model replicas that take both cores for a Whisper
    # pass). Applied by the process's owner (telephony/ingress_actor.py) before it starts any
    # helper thread. Better than the replicas' needs CAP_SYS_NICE; without it a warning is logged.
    nice: int | None = None
    stall_s: float = 5.0
    ready_timeout_s: float = 30.0
    # How often the modem's signal and registration are read for the metrics (0: only when asked).
    signal_poll_s: float = 60.0

    @classmethod
    def from_dict(cls, d: dict | None) -> ModemIngressConfig:
        return cls(**(d or {}))


@dataclass
class ActiveCall:
    call_id: str
    direction: str  # "inbound" | "outbound"
    number: str | None
    state: str  # "ringing" | "dialing" | "active" | "ending"
    greeting: str | None = None  # an outbound call's opening line
    started: float = field(default_factory=time.monotonic)
    answering: bool = False
    session: CallSession | None = None
    bridge: CallBridge | None = None
    task: asyncio.Task | None = None
    remote_reason: str | None = None
    stop_reason: str | None = None
    remote_end: asyncio.Event = field(default_factory=asyncio.Event)
    finalised: bool = False
    screening: str | None = None  # "blocked": declined at the door (screening/front_door.py)

    def summary(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "direction": self.direction,
            "number": mask_number(self.number),
            "state": self.state,
            "elapsed_s": round(time.monotonic() - self.started, 1),
            "turns": len(self.session.record.turns) if self.session else 0,
        }


class ModemIngress:
    def __init__(
        self,
        at_port: str,
        audio_port: str,
        services: CallServices,
        store: CallStore,
        recordings: RecordingStore | None = None,
        config: ModemIngressConfig | None = None,
        policy: NumberPolicy | None = None,
        events: EventLog | None = None,
        driver_options: dict[str, Any] | None = None,
        personas: PersonaRegistry | None = None,
        allowance_for: Callable[[str], Allowance] | None = None,
        recording_allowed: Callable[[str | None], Awaitable[bool]] | None = None,
        front_door: Any = None,
    ) -> None:
        """``front_door``: screening and caller memory (``screening/front_door.py``); None: every
        caller is answered alike."""
        self.services, self.store = services, store
        self.front_door = front_door
        # The caller's latest recording consent (privacy's records): a withdrawal is honoured.
        self.recording_allowed = recording_allowed
        self.personas = personas
        self.allowance_for = allowance_for  # the line's plan minutes per call (billing's gate), if metered
        self.recordings = recordings or RecordingStore()
        self.config = config or ModemIngressConfig()
        self.events = events or EventLog()
        self.driver = SIM7600Driver(at_port, audio_port, policy or NumberPolicy(), self._on_event, **(driver_options or {}))
        self.call: ActiveCall | None = None
        self.calls_handled = 0
        self.draining = False  # shutting down: calls in progress end politely, new ones are declined
        self._queue: asyncio.Queue[ModemEvent] = asyncio.Queue()
        self._consumer: asyncio.Task | None = None
        self._tasks: set[asyncio.Task] = set()

    # ---- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        closed = await self.store.close_dangling()
        if closed:
            log.warning("ingress.closed_dangling_calls", count=closed)
        self._consumer = asyncio.create_task(self._consume(), name="ingress-events")
        await self.driver.connect(wait=False)
        warm = getattr(self.services.responder, "warm", None)
        if warm is not None:  # the FAQ's model and vectors, before the first caller needs them
            self._spawn(warm(await self._persona()), "faq-warm-up")
        if self.config.signal_poll_s > 0:
            self._spawn(self._watch_signal(), "modem-signal")

    async def wait_ready(self, timeout_s: float | None = None) -> None:
        await self.driver.wait_ready(timeout_s or self.config.ready_timeout_s)

    async def stop(self) -> None:
        if self.call is not None:
            await self.hang_up(reason="ingress_stopped")
            if self.call is not None and self.call.task is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(self.call.task), 10)
        for task in [self._consumer, *self._tasks]:
            if task is not None:
                task.cancel()
        await self.driver.close()

    def _spawn(self, coro, name: str) -> asyncio.Task:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ---- public actions ----------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return {
            "modem": "ready" if self.driver._ready.is_set() else "connecting",
            "call": self.call.summary() if self.call else None,
            "calls_handled": self.calls_handled,
            "last_event": self.events.last_seq,
        }

    async def modem_status(self) -> dict[str, Any]:
        status = await self.driver.status()
        call_metrics.modem_seen(status.imei, status.signal_dbm, status.registration)
        return asdict(status)

    async def _watch_signal(self) -> None:
        """Signal and registration for the dashboard and the "modem lost" alert, every ``signal_poll_s``."""
        line = None
        while True:
            try:
                await self.driver.wait_ready(self.config.ready_timeout_s)
                line = (await self.modem_status())["imei"]
            except MODEM_ERRORS:
                if line is not None:  # the modem that was there is gone: "modem lost" fires on this
                    call_metrics.modem_seen(line, None, "not registered")
            await asyncio.sleep(self.config.signal_poll_s)

    async def diagnostic(self, name: str) -> list[str]:
        return await self.driver.diagnostic(name)

    async def dial(self, number: str, greeting: str | None = None) -> str:
        """Place an outbound call; the session speaks ``greeting`` (or the persona's) on connect."""
        if self.call is not None:
            raise LineBusy("the modem is already on a call")
        call = ActiveCall(uuid.uuid4().hex, "outbound", number, "dialing", greeting=greeting)
        self.call = call
        await self.store.call_started("outbound", number, self.config.persona, call.call_id, status="dialing")
        self.events.publish("call.dialing", call_id=call.call_id, number=mask_number(number))
        try:
            call.number = await self.driver.dial(number)
        except (PolicyRefusal, CommandRejected):
            await self._finalise(call, "refused")
            raise
        except MODEM_ERRORS as exc:
            log.warning("ingress.dial_failed", call_id=call.call_id, error=type(exc).__name__)
            await self._finalise(call, "dial_failed")
            raise
        return call.call_id

    async def hang_up(self, call_id: str | None = None, reason: str = "admin_hangup") -> bool:
        call = self.call
        if call is None or (call_id is not None and call.call_id != call_id):
            return False
        call.stop_reason = reason
        if call.bridge is not None:
            call.bridge.stop()  # the conversation task hangs up and saves the record
        elif call.state in ("ringing", "dialing"):
            call.state = "ending"
            with contextlib.suppress(*MODEM_ERRORS):
                await self.driver.hang_up()
            await self._finalise(call, reason)
        return True

    async def send_sms(self, number: str, text: str) -> int:
        reference = await self.driver.send_sms(number, text)
        await self.store.sms_saved("outbound", number, text)
        self.events.publish("sms.sent", number=mask_number(number))
        return reference

    # ---- driver events -----------------------------------------------------------------------
    def _on_event(self, event: ModemEvent) -> None:
        self._queue.put_nowait(event)

    async def _consume(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await self._handle(event)
            except Exception:  # one bad event must not stop the ingress
                log.exception("ingress.event_failed", event=type(event).__name__)

    async def _handle(self, event: ModemEvent) -> None:
        call = self.call
        match event:
            case IncomingCall(number=number):
                if call is not None:
                    log.warning("ingress.unexpected_ring", call_id=call.call_id)
                    return
                call = ActiveCall(uuid.uuid4().hex, "inbound", number, "ringing")
                self.call = call
                await self.store.call_started("inbound", number, self.config.persona, call.call_id)
                self.events.publish("call.ringing", call_id=call.call_id, number=mask_number(number))
                log.info("ingress.ringing", call_id=call.call_id, pii_number=number)
            case Ring(count=count):
                if self.draining and call is not None and call.state == "ringing" and not call.answering:
                    call.answering = True  # declined once: the caller hears busy and may call back
                    self._spawn(self._decline(call, "draining"), "ingress-decline")
                elif (
                    call is not None
                    and call.state == "ringing"
                    and not call.answering
                    and count >= self.config.answer_after_rings
                ):
                    call.answering = True
                    self._spawn(self._answer(call), "ingress-answer")
            case CallConnected():
                if call is not None and call.state in ("ringing", "dialing"):
                    call.state = "active"
                    call.task = self._spawn(self._converse(call), f"call-{call.call_id}")
            case CallEnded(reason=reason):
                if call is None or call.state == "ending":
                    return
                call.remote_reason = REMOTE_REASONS.get(reason, reason)
                call.remote_end.set()
                if call.state == "ringing":
                    await self._finalise(call, "missed")
                elif call.state == "dialing":
                    await self._finalise(call, call.remote_reason)
                elif call.bridge is not None:
                    call.bridge.stop()
            case MissedCall(number=number):
                if call is not None and call.state == "ringing":
                    await self._finalise(call, "missed")
                elif call is None:
                    call_id = await self.store.call_started("inbound", number, self.config.persona)
                    await self.store.call_ended(call_id, "missed")
                    self.events.publish("call.ended", call_id=call_id, reason="missed")
            case CallWaiting(number=number):
                with contextlib.suppress(*MODEM_ERRORS):
                    await self.driver.reject_waiting()
                call_id = await self.store.call_started("inbound", number, self.config.persona)
                await self.store.call_ended(call_id, "busy")
                self.events.publish("call.declined", call_id=call_id, number=mask_number(number), reason="busy")
                log.info("ingress.declined_second_call", call_id=call_id, pii_number=number)
            case SmsReceived(index=index):
                self._spawn(self._on_sms(index), "ingress-sms")
            case DtmfReceived(key=key):
                if call is not None:
                    self.events.publish("call.dtmf", call_id=call.call_id, key=key)
            case ModemLost():
                self.events.publish("modem.lost")
            case ModemReady():
                self.events.publish("modem.ready")

    async def drain(self, timeout_s: float = 15.0) -> dict[str, Any]:
        """Stop taking calls and end the one in progress in words, within ``timeout_s``.

        The caller hears the persona's shutdown line ("please call back in a few minutes"), then
        the line hangs up and the record is saved as ``shutdown``; a call still going at the bound
        is hung up. Calls that ring meanwhile are declined (``draining``)."""
        self.draining = True
        call = self.call
        if call is None:
            return {"call": None}
        if call.session is not None and call.state == "active":
            call.session.end_politely("shutdown")
        else:
            await self.hang_up(reason="shutdown")
        if call.task is not None:
            with contextlib.suppress(asyncio.TimeoutError, Exception):
                await asyncio.wait_for(asyncio.shield(call.task), timeout_s)
        if self.call is call:  # not over in time: hang up now
            await self.hang_up(reason="shutdown")
        return {"call": call.call_id}

    async def _decline(self, call: ActiveCall, reason: str) -> None:
        call.state = "ending"
        with contextlib.suppress(*MODEM_ERRORS):
            await self.driver.hang_up()
        await self._finalise(call, reason)

    # ---- a call ------------------------------------------------------------------------------
    async def _answer(self, call: ActiveCall) -> None:
        try:
            await self.driver.answer()
        except MODEM_ERRORS as exc:
            log.warning("ingress.answer_failed", call_id=call.call_id, error=type(exc).__name__)
            if self.call is call and call.state == "ringing":
                call.state = "ending"
                with contextlib.suppress(*MODEM_ERRORS):
                    await self.driver.hang_up()
                await self._finalise(call, "answer_failed")

    async def _persona(self) -> Persona | None:
        """The configured persona from the registry; None (profile lines) if absent or unusable."""
        if self.personas is None:
            return None
        try:
            persona = await self.personas.get(self.config.persona)
        except PersonaNotFound:
            log.warning("ingress.persona_missing", persona=self.config.persona)
            return None
        if persona.status != "available":
            log.warning("ingress.persona_unavailable", persona=persona.name, reason=persona.status_reason)
        return persona

    def _session_config(self, persona: Persona | None = None, greeting: str | None = None) -> SessionConfig:
        over: dict[str, Any] = {"sample_rate": 8000}
        if greeting:  # written for this call: said, not kept with the persona's lines
            over.update(greeting=greeting, keep_greeting=False)
        # The persona's language, prompt and lines; the profile's block tunes timings on top.
        base = persona.session_config() if persona is not None else {}
        return SessionConfig.from_dict({**base, **self.config.session}, **over)

    async def _voice(self, persona: Persona | None) -> str | None:
        """The voice that speaks the persona's language (personas/voices.py); its own when the TTS
        cannot say which voices it has, and, when none speaks it, its own with an error logged."""
        voices = getattr(self.services.synthesizer, "voices", None)
        if persona is None or voices is None:
            return persona.voice if persona is not None else None
        from personas.voices import NoVoiceForLanguage, choose_voice

        try:
            return choose_voice(persona.name, persona.language, persona.voice, await voices()).voice
        except NoVoiceForLanguage as exc:
            log.error("ingress.no_voice_for_language", persona=persona.name, error=str(exc))
        except Exception as exc:  # the TTS did not answer: the persona's own voice, as before
            log.warning("ingress.voices_unknown", error=type(exc).__name__)
        return persona.voice

    def _services(self, persona: Persona | None, voice: str | None = None) -> CallServices:
        s = self.services
        if persona is None:
            return s
        synthesizer, responder = s.synthesizer, s.responder
        if hasattr(synthesizer, "with_voice"):
            synthesizer = synthesizer.with_voice(voice or persona.voice)
        if hasattr(responder, "for_persona"):  # FAQ, adapter, fallback and apology of this persona
            responder = responder.for_persona(persona)
        elif hasattr(responder, "with_sampling"):
            p = persona.sampling
            responder = responder.with_sampling(p.max_tokens, p.temperature, p.top_p)
        return CallServices(s.transcriber, responder, synthesizer)

    async def _may_record(self, call: ActiveCall) -> bool:
        if self.recording_allowed is None:
            return True
        try:
            return await self.recording_allowed(call.number)
        except Exception as exc:  # the records cannot be read: do not record rather than ignore a withdrawal
            log.warning("ingress.consent_unknown", call_id=call.call_id, error=type(exc).__name__)
            return False

    async def _plan(self, call: ActiveCall, persona: Persona | None, config: SessionConfig) -> SessionConfig:
        """This call's lines: screened, asked to introduce themselves or welcomed back (inbound);
        the message to leave on an answering machine (outbound)."""
        from screening.front_door import lines_for

        if call.direction == "outbound":
            name = persona.display_name if persona is not None else "your assistant"
            message = call.greeting or lines_for(config.language)["voicemail"].format(persona=name)
            return replace(config, voicemail_message=message)
        if self.front_door is None:
            return config
        plan = await self.front_door.plan(call.number, config.language, config.greeting, config.system_prompt)
        if plan.blocked:
            call.screening = "blocked"
            self.events.publish("call.screened", call_id=call.call_id, reason="blocked")
        return replace(config, **plan.session)

    async def _converse(self, call: ActiveCall) -> None:
        reason = "ended"
        try:
            try:
                port = await self.driver.start_audio(self.config.uplink_prime_frames)
            except MODEM_ERRORS as exc:
                log.warning("ingress.audio_failed", call_id=call.call_id, error=type(exc).__name__)
                reason = call.remote_reason or "audio_unavailable"
                return
            persona = await self._persona()
            s = self._services(persona, await self._voice(persona))
            config = await self._plan(call, persona, self._session_config(persona, call.greeting))
            if not await self._may_record(call):
                config = replace(config, record_audio=False, recording_notice="")  # nor say that it is
            allowance = self.allowance_for(call.call_id) if self.allowance_for is not None else None
            call.session = CallSession(
                s.transcriber, s.responder, s.synthesizer, config, call_id=call.call_id, allowance=allowance
            )
            call.bridge = CallBridge(call.session, port, stall_s=self.config.stall_s)
            await self.store.call_answered(call.call_id)
            self.events.publish("call.answered", call_id=call.call_id, direction=call.direction)
            result = await call.bridge.run()
            if result.reason == "port_closed" and call.remote_reason is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(call.remote_end.wait(), 2.0)  # the driver's URC may trail the EOF
            if call.remote_reason is not None:
                reason = call.remote_reason
            elif result.reason == "session_ended":
                reason = call.session.record.end_reason or "ended"
            elif result.reason == "stopped":
                reason = call.stop_reason or "stopped"
            else:
                reason = result.reason
            log.info(
                "ingress.call_audio_done",
                call_id=call.call_id,
                bridge=result.reason,
                reason=reason,
                frames_in=result.frames_in,
                frames_out=result.frames_out,
                reply_gaps=result.reply_gaps,
                uplink_late_max_ms=round(port.late_max_s * 1000),
                uplink_stalls=port.stalls[:10],
            )
        except asyncio.CancelledError:
            reason = "ingress_stopped"
            raise
        except Exception:
            log.exception("ingress.call_failed", call_id=call.call_id)
            reason = "internal_error"
        finally:
            if call.session is not None:
                await call.session.close(reason)
            if call.remote_reason is None:
                call.state = "ending"
                with contextlib.suppress(*MODEM_ERRORS):
                    await self.driver.hang_up()
            await asyncio.shield(self._finalise(call, reason))

    async def _finalise(self, call: ActiveCall, reason: str) -> None:
        if call.finalised:
            return
        call.finalised = True
        call.state = "ending"
        transcript, barge_ins, ref = [], 0, None
        session = call.session
        if session is not None:
            transcript = [asdict(t) for t in session.record.turns]
            barge_ins = session.record.barge_ins
            if session.recorder is not None and session.recorder.duration_s > 0:
                try:
                    wav = session.recorder.wav()
                    ref = await asyncio.to_thread(self.recordings.write, call.call_id, wav, self.store.tenant_id)
                except OSError:
                    log.exception("ingress.recording_failed", call_id=call.call_id)
        try:
            await self.store.call_ended(call.call_id, reason, transcript, barge_ins, ref, screening=call.screening)
        except Exception:
            log.exception("ingress.record_failed", call_id=call.call_id)
        if self.call is call:
            self.call = None
        self.calls_handled += 1
        self.events.publish("call.ended", call_id=call.call_id, reason=reason, turns=len(transcript))
        log.info("ingress.call_ended", call_id=call.call_id, reason=reason, turns=len(transcript), pii_number=call.number)

    # ---- SMS ---------------------------------------------------------------------------------
    async def _on_sms(self, index: int) -> None:
        try:
            msg = await self.driver.read_sms(index)
        except MODEM_ERRORS as exc:
            log.warning("ingress.sms_read_failed", index=index, error=type(exc).__name__)
            return
        sms_id = await self.store.sms_saved("inbound", msg.number, msg.text)
        self.events.publish("sms.received", sms_id=sms_id, number=mask_number(msg.number))
        log.info("ingress.sms_received", sms_id=sms_id, pii_number=msg.number, pii_text=msg.text)
        with contextlib.suppress(*MODEM_ERRORS):
            await self.driver.delete_sms(index)  # the SIM's storage is small; the database keeps it
        if not self.config.sms_auto_reply:
            return
        try:
            reply = await self._compose_sms_reply(msg.text)
            await self.driver.send_sms(msg.number, reply)
        except (PolicyRefusal, CommandRejected) as exc:
            log.info("ingress.sms_reply_refused", sms_id=sms_id, reason=str(exc))
            return
        except Exception as exc:
            log.warning("ingress.sms_reply_failed", sms_id=sms_id, error=type(exc).__name__)
            return
        await self.store.sms_saved("outbound", msg.number, reply, reply_to=sms_id)
        self.events.publish("sms.sent", reply_to=sms_id, number=mask_number(msg.number))

    async def _compose_sms_reply(self, text: str) -> str:
        persona = await self._persona()
        config = self._session_config(persona)
        system = config.system_prompt
        messages = [
            {"role": "system", "content": f"{system} {self.config.sms_reply_prompt}"},
            {"role": "user", "content": text},
        ]
        parts = [delta async for delta in self._services(persona).responder.reply(messages)]
        reply = re.sub(r"\s+", " ", "".join(parts)).strip()  # SMS text may carry no control characters
        limit = self.config.sms_reply_max_chars
        if len(reply) > limit:
            cut = reply[:limit].rsplit(" ", 1)[0]
            reply = cut.rstrip(",;:") + "…"
        return reply or config.apology
