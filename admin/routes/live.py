"""Today's live view for one tenant: every line it may see, as one stream of server-sent events.

The console's Today page opens one stream and learns of every call on every line of the tenant
(the profile's modem, when it is the tenant's, and each registered line) as it rings, is
answered and ends. The stream starts with a ``snapshot`` event (each line's state, signal and
current call), so a page that connects mid-call, or reconnects, shows the truth without replaying
history; then each line's events follow, with the line they came from.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from fastapi import APIRouter, Request
from sse_starlette.sse import EventSourceResponse

from admin.dependencies import ModemClient, database_url, get_line_pool, get_modem_client
from infra.auth import Principal, Reader
from infra.http_errors import APIError
from infra.logging import get_logger
from infra.settings import get_settings
from infra.stream_caps import TooManyStreams, stream_caps
from telephony.lines import LineRegistry

log = get_logger(__name__)
router = APIRouter(tags=["live"])
PROFILE_LINE = "modem"


async def visible_lines(principal: Principal) -> dict[str, tuple[str, ModemClient | None]]:
    """Line id -> (label, client) for every line this principal may watch."""
    found: dict[str, tuple[str, ModemClient | None]] = {}
    profile = get_modem_client()
    if profile is not None and principal.tenant_id in (None, get_settings().modem_tenant):
        found[PROFILE_LINE] = ("", profile)
    pool = get_line_pool()
    for line in await LineRegistry(database_url()).list(tenant_id=principal.tenant_id):
        found[line.imei] = (line.label, pool.client(line.imei) if pool is not None else None)
    return found


async def line_state(client: ModemClient | None) -> dict[str, Any]:
    """The line's ingress state, its current call, and (when ready) the modem's signal and registration."""
    if client is None:
        return {"modem": "disabled", "call": None}
    try:
        status = await client.call("status", timeout_s=5)
        if status.get("modem") == "ready":
            with contextlib.suppress(Exception):
                status["radio"] = await client.call("modem_status", timeout_s=5)
        return status
    except Exception as exc:  # the line's node away: shown as such, the others still stream
        return {"modem": "unavailable", "call": None, "error": type(exc).__name__}


@router.get("/live")
async def live(principal: Reader, request: Request) -> EventSourceResponse:
    """``snapshot`` first, then ``call.ringing``, ``call.answered``, ``call.ended``, ``modem.lost``…
    each with its ``line``. The stream ends after ``stream_idle_timeout_s`` without events; the
    console reconnects and gets a fresh snapshot."""
    settings = get_settings()
    caps, key = stream_caps("live", settings.max_streams_per_tenant), principal.tenant_id or ""
    if caps.open_for(key) >= caps.per_tenant:
        raise APIError(429, str(TooManyStreams(key, caps.per_tenant)), code="too_many_streams")
    lines = await visible_lines(principal)
    states = await asyncio.gather(*(line_state(client) for _, client in lines.values()))
    snapshot = {
        "lines": [
            {"line": line_id, "label": label, **state}
            for (line_id, (label, _)), state in zip(lines.items(), states, strict=True)
        ]
    }
    cursors = {line_id: state.get("last_event", 0) for line_id, state in zip(lines, states, strict=True)}

    async def follow(line_id: str, client: ModemClient, queue: asyncio.Queue) -> None:
        while True:
            try:
                events = await client.call("events", cursors[line_id], 10.0, timeout_s=30.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the line's node away: say so once, try again shortly
                await queue.put({"type": "line.unavailable", "line": line_id, "error": type(exc).__name__})
                await asyncio.sleep(5.0)
                continue
            for event in events:
                cursors[line_id] = event["seq"]
                await queue.put({"type": event["type"], "line": line_id, "at": event["at"], **event["data"]})

    async def stream():
        try:
            held = caps.hold(key)
            held.__enter__()
        except TooManyStreams as exc:
            yield {"event": "error", "data": json.dumps({"message": str(exc)})}
            return
        queue: asyncio.Queue = asyncio.Queue()
        tasks = [
            asyncio.create_task(follow(line_id, client, queue), name=f"live-{line_id}")
            for line_id, (_, client) in lines.items()
            if client is not None
        ]
        try:
            yield {"event": "snapshot", "data": json.dumps(snapshot)}
            quiet_since = time.monotonic()
            while not await request.is_disconnected():
                try:
                    event = await asyncio.wait_for(queue.get(), 1.0)
                except TimeoutError:
                    if time.monotonic() - quiet_since >= settings.stream_idle_timeout_s:
                        return  # idle: the slot goes back; the console reconnects
                    continue
                quiet_since = time.monotonic()
                yield {"event": event["type"], "data": json.dumps(event)}
        finally:
            for task in tasks:
                task.cancel()
            held.__exit__(None, None, None)

    return EventSourceResponse(stream(), ping=15)
