"""``WS /v1/calls/stream``: a phone call over a WebSocket, through the same call session as the modem.

Protocol (also in the README):
- authenticate with ``Authorization: Bearer sk_…`` or, where headers cannot be set (browsers),
  ``?api_key=sk_…``; without a valid key the socket closes with code 1008;
- connect with query ``sample_rate`` (8000 or 16000, default 8000) and optional ``persona`` (its
  language, prompt, lines, voice, FAQ and adapter; an unknown or unavailable one closes the
  socket with code 1008 and the reason), ``language`` (default "en", or the persona's),
  ``voice``, ``stt_model`` (a transcription model by id, as ``GET /v1/models`` lists them;
  default: the one the profile routes the language to; an unknown one closes with code 1008),
  ``echo_guard`` (default false: browsers cancel echo themselves; set it for clients that play
  the reply into an open microphone), ``speculate`` (default true: start answering at the
  first short pause, release at the end of the turn), ``pause_ms`` (that pause: default 80, a
  multiple of 20 below the 600 ms end of turn; otherwise the socket closes with code 1008) and
  ``first_chunk`` (``phrase``, the default: the reply's first clause of 8 characters or more,
  or from 8 characters the words before a phrase opener such as "with" or "because";
  ``clause``: only that clause; ``eager``: that clause or the first six words), ``chunks``
  (``growing``, the default: each later chunk at most twice as long as the one before it,
  so that it is made while that one plays; ``sentences``: whole sentences up to 160 characters)
  and ``playout``
  (``hold``, the default: a reply produced slower than it plays waits until it cannot run dry;
  ``immediate``: every reply plays as soon as its first audio exists);
- the server sends ``{"type": "session.started", "call_id", "sample_rate", "frame_bytes"}``;
- the client sends caller audio as binary messages of mono S16LE at that rate, any length, in
  real time (like a phone line; the server cuts them into 20 ms frames);
- for every 20 ms of caller audio the server answers with the next 20 ms of reply audio as a
  binary message, when it has some;
- the server sends ``{"type": "turn", "speaker", "text", "at_s"}`` when it has transcribed the caller;
- the client may send ``{"type": "hangup"}``; when the call ends either way the server sends
  ``{"type": "call.ended", "reason", "record"}`` and closes. A call is the key's tenant's: it
  counts against its plan's minutes; with none left the caller hears the limit notice and the
  call ends with reason ``usage_limit``. Optional ``caller`` is the caller's number (a SIP gateway
  or phone app knows it): the call is screened by it (block list, caller memory) and the call's
  record and the owner's message carry it. Every call is kept in the call history like a modem
  call, and its message goes to the owner (``messages/``). A bad text message gets
  ``{"type": "error", "message"}`` and the call goes on;
- a tenant holds at most ``max_streams_per_tenant`` call sockets on one replica (the next closes
  with code 1013, try again later), and a socket that sends nothing for
  ``stream_idle_timeout_s`` ends its call with reason ``idle_timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from dataclasses import asdict, replace
from typing import Literal

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from deployments.ingress.auth import bearer, verify_key
from deployments.ingress.call_records import CallRecordKeeper
from deployments.ingress.dependencies import Models, Personas
from deployments.ingress.errors import APIError
from deployments.ingress.personas import resolve_persona
from deployments.ingress.usage import get_gate
from infra.settings import get_settings
from infra.stream_caps import TooManyStreams, stream_caps
from pipeline.chunker import ChunkerConfig
from pipeline.frames import SUPPORTED_RATES, Framer, frame_bytes
from pipeline.services import HandleSynthesizer, HandleTranscriber
from pipeline.session import CallSession, SessionConfig
from pipeline.turns import TurnConfig

router = APIRouter(tags=["calls"])
# ``first_chunk``: how a reply's first chunk is cut (pipeline/chunker.py)
FIRST_CHUNK_RULES = {"clause": ChunkerConfig.clause, "eager": ChunkerConfig.eager, "phrase": ChunkerConfig.phrase}


def join_reply(frames: list[bytes | None], frame_bytes: int) -> bytes:
    """The reply frames due for one message in, as one message out.

    ``None`` is a tick with no reply audio. Before the first frame of audio and after the last
    there is nothing to send; between two, the silence the caller would have heard is kept, so
    a gap inside a reply is not squeezed out by joining.
    """
    audible = [i for i, f in enumerate(frames) if f is not None]
    if not audible:
        return b""
    silence = b"\x00" * frame_bytes
    return b"".join(f if f is not None else silence for f in frames[audible[0] : audible[-1] + 1])


@router.websocket("/v1/calls/stream")
async def call_stream(
    ws: WebSocket,
    models: Models,
    assistant: Personas,
    sample_rate: int = 8000,
    persona: str | None = None,
    language: str | None = None,
    voice: str | None = None,
    stt_model: str | None = None,
    echo_guard: bool = False,
    speculate: bool = True,
    pause_ms: int | None = None,
    first_chunk: Literal["clause", "eager", "phrase"] = "phrase",
    chunks: Literal["growing", "sentences"] = "growing",
    playout: Literal["hold", "immediate"] = "hold",
    api_key: str | None = None,
    caller: str | None = None,
) -> None:
    try:
        principal = await verify_key(bearer(ws.headers.get("authorization")) or api_key)
    except APIError as exc:
        await ws.close(code=1008, reason=exc.message[:120])
        return
    if sample_rate not in SUPPORTED_RATES:
        await ws.close(code=1008, reason=f"sample_rate must be one of {SUPPORTED_RATES}")
        return
    found = None
    if persona:
        try:
            found = await resolve_persona(persona, models, assistant, principal.tenant_id)
        except APIError as exc:
            await ws.close(code=1008, reason=exc.message[:120])
            return
    try:
        if not speculate:
            turn = TurnConfig(pause_ms=None)
        else:
            turn = TurnConfig() if pause_ms is None else TurnConfig(pause_ms=pause_ms)
    except ValueError as exc:
        await ws.close(code=1008, reason=str(exc)[:120])
        return
    if stt_model is not None:
        known = {m["id"] for m in await models.stt_models()}
        if stt_model not in known:
            await ws.close(code=1008, reason=f"unknown stt_model; one of: {', '.join(sorted(known))}"[:120])
            return
    speaking = voice or models.config.default_voice
    if found is not None and voice is None:
        from personas.voices import NoVoiceForLanguage, choose_voice

        try:
            speaking = choose_voice(found.name, found.language, found.voice, await models.tts_voices()).voice
        except NoVoiceForLanguage as exc:
            await ws.close(code=1008, reason=str(exc)[:120])
            return
    settings = get_settings()
    caps = stream_caps("calls", settings.max_streams_per_tenant)
    try:
        held = caps.hold(principal.tenant_id or "")
        held.__enter__()
    except TooManyStreams as exc:
        await ws.accept()  # accepted only to say why: a refused handshake would reach a browser as a bare error
        await ws.close(code=1013, reason=str(exc)[:120])  # 1013: try again later
        return
    try:
        await ws.accept()
        await assistant.responder.warm(found)  # the FAQ's model now, not at the end of the caller's first turn
        lines = found.session_config() if found is not None else {"language": "en"}
        if language:
            lines["language"] = language
        call_id, gate = uuid.uuid4().hex, get_gate()
        config = SessionConfig.from_dict(
            lines,
            sample_rate=sample_rate,
            echo_guard=echo_guard,
            turn=turn,
            chunker=replace(FIRST_CHUNK_RULES[first_chunk](), **({"growth": None} if chunks == "sentences" else {})),
            playout_hold=playout == "hold",
        )
        record = CallRecordKeeper(principal.tenant_id, caller, found.name if found is not None else None, call_id)
        config = await record.start(config)
        session = CallSession(
            HandleTranscriber(models.stt, stt_model),
            assistant.responder.for_persona(found),
            HandleSynthesizer(models.tts, speaking),
            config,
            call_id=call_id,
            allowance=gate.allowance(principal.tenant_id, call_id) if gate is not None else None,
        )
        session.start()
        await ws.send_json(
            {
                "type": "session.started",
                "call_id": session.record.call_id,
                "sample_rate": sample_rate,
                "frame_bytes": frame_bytes(sample_rate),
            }
        )
        framer = Framer(sample_rate)
        reported = 0
        reason = "client_hangup"
        try:
            while not session.ended.is_set():
                try:
                    message = await asyncio.wait_for(ws.receive(), settings.stream_idle_timeout_s)
                except TimeoutError:  # a line that carries nothing holds a replica's slot for nothing
                    reason = "idle_timeout"
                    await ws.send_json({"type": "error", "message": "no audio for too long; the call ends"})
                    break
                if message["type"] == "websocket.disconnect":
                    break
                if message.get("bytes"):
                    # One message back per message in, whatever its length: each WebSocket message
                    # costs a Ray call through the Serve proxy, so a client's longer packets mean
                    # fewer of them both ways (measured in BENCHMARKS.md).
                    replies = []
                    for frame in framer.push(message["bytes"]):
                        await session.push(frame)
                        out = session.next_frame()
                        replies.append(out.pcm if out is not None else None)
                    if reply := join_reply(replies, framer.size):
                        await ws.send_bytes(reply)
                elif message.get("text") is not None:
                    try:
                        command = json.loads(message["text"])
                    except ValueError:
                        await ws.send_json({"type": "error", "message": "text messages must be JSON"})
                        continue
                    if isinstance(command, dict) and command.get("type") == "hangup":
                        break
                    await ws.send_json(
                        {"type": "error", "message": 'unknown message; send audio bytes or {"type": "hangup"}'}
                    )
                turns = session.record.turns
                while reported < len(turns):
                    turn = turns[reported]
                    if turn.speaker == "caller":
                        await ws.send_json({"type": "turn", "speaker": "caller", "text": turn.text, "at_s": turn.at_s})
                    reported += 1
        except WebSocketDisconnect:
            pass
        finally:
            if session.ended.is_set():
                reason = session.record.end_reason or "ended"
            await session.close(reason)
            await record.end(session)
            with contextlib.suppress(Exception):
                await ws.send_json(
                    {"type": "call.ended", "reason": session.record.end_reason, "record": asdict(session.record)}
                )
                await ws.close()
    finally:
        held.__exit__(None, None, None)
