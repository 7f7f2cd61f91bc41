"""Calls: paginated history, one call and its recording, the active call, dialing out, hanging up,
live events (SSE)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from sse_starlette.sse import EventSourceResponse

from admin.dependencies import Modem, Recordings, Store
from admin.schemas import CallStatus, DialRequest, Direction, PageOut
from infra.auth import Admin, Reader
from infra.crypto import DecryptionError
from infra.http_errors import APIError
from infra.logging import get_logger
from infra.settings import get_settings
from infra.stream_caps import TooManyStreams, stream_caps

log = get_logger(__name__)

router = APIRouter(prefix="/calls", tags=["calls"])


@router.get("", response_model=PageOut)
async def list_calls(
    _: Reader,
    store: Store,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
    direction: Direction | None = None,
    status: CallStatus | None = None,
) -> PageOut:
    page = await store.list_calls(limit, offset, direction, status)
    return PageOut(items=page.items, total=page.total, limit=page.limit, offset=page.offset)


@router.get("/active")
async def active_call(_: Reader, modem: Modem) -> dict:
    status = await modem.call("status")
    return {"call": status.get("call")}


@router.get("/events")
async def call_events(
    principal: Reader,
    modem: Modem,
    request: Request,
    last_event_id: Annotated[str | None, Header()] = None,
    after: Annotated[int | None, Query(ge=0)] = None,
) -> EventSourceResponse:
    """Server-sent events: ``call.ringing``, ``call.answered``, ``call.ended``, ``sms.received``, …;
    a client that reconnects with ``Last-Event-ID`` resumes where it stopped.

    A tenant holds at most ``max_streams_per_tenant`` of these per replica (more: 429), and a
    stream with no event for ``stream_idle_timeout_s`` ends (``EventSource`` reconnects by itself
    and resumes from its last id, so nothing is missed)."""
    settings = get_settings()
    caps, key = stream_caps("call-events", settings.max_streams_per_tenant), principal.tenant_id or ""
    if caps.open_for(key) >= caps.per_tenant:
        raise APIError(429, str(TooManyStreams(key, caps.per_tenant)), code="too_many_streams")
    cursor = after if after is not None else int(last_event_id) if (last_event_id or "").isdigit() else None
    if cursor is None:
        cursor = (await modem.call("status")).get("last_event", 0)

    async def stream():
        nonlocal cursor
        try:
            held = caps.hold(key)
            held.__enter__()
        except TooManyStreams as exc:  # others opened meanwhile
            yield {"event": "error", "data": json.dumps({"message": str(exc)})}
            return
        try:
            quiet_since = time.monotonic()
            while not await request.is_disconnected():
                wait = min(10.0, max(0.1, settings.stream_idle_timeout_s - (time.monotonic() - quiet_since)))
                events = await modem.call("events", cursor, wait, timeout_s=wait + 20.0)
                for event in events:
                    cursor = event["seq"]
                    yield {
                        "id": str(event["seq"]),
                        "event": event["type"],
                        "data": json.dumps({"at": event["at"], **event["data"]}),
                    }
                if events:
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since >= settings.stream_idle_timeout_s:
                    return  # idle: give the slot back; the client reconnects with Last-Event-ID
        finally:
            held.__exit__(None, None, None)

    return EventSourceResponse(stream(), ping=15)


@router.get("/{call_id}")
async def get_call(_: Reader, store: Store, call_id: str) -> dict:
    call = await store.get_call(call_id)
    if call is None:
        raise APIError(404, f"no call {call_id!r}", param="call_id", code="call_not_found")
    return call


@router.get(
    "/{call_id}/recording",
    response_class=Response,
    responses={200: {"content": {"audio/wav": {}}, "description": "the call's recording, decrypted"}},
)
async def get_recording(_: Reader, store: Store, recordings: Recordings, call_id: str) -> Response:
    """The call's recording as WAV, decrypted for the call's own tenant (or the operator) only."""
    call = await store.get_call(call_id)
    if call is None:
        raise APIError(404, f"no call {call_id!r}", param="call_id", code="call_not_found")
    if not call["recording_ref"]:
        raise APIError(404, "this call has no recording (no consent, or too short)", code="recording_not_found")
    try:
        wav = await asyncio.to_thread(recordings.read, call["recording_ref"])
    except FileNotFoundError:
        raise APIError(404, "the recording was deleted", code="recording_not_found") from None
    except DecryptionError:
        log.error("admin.recording_undecryptable", call_id=call_id)
        raise APIError(
            409, "the recording cannot be decrypted (tampered with, or its key is gone)", code="recording_unreadable"
        ) from None
    return Response(wav, media_type="audio/wav", headers={"Cache-Control": "no-store"})


@router.post("", status_code=202)
async def dial(_: Admin, modem: Modem, body: DialRequest) -> dict:
    return await modem.call("dial", body.number, body.greeting)


@router.post("/{call_id}/hangup")
async def hang_up(_: Admin, modem: Modem, call_id: str) -> dict:
    result = await modem.call("hang_up", call_id)
    if not result["hung_up"]:
        raise APIError(404, f"call {call_id!r} is not in progress", param="call_id", code="call_not_active")
    return {"call_id": call_id, "hung_up": True}
