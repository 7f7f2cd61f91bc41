"""Modem lines: the registry (the operator's) and each line's status, calls and events (its tenant's).

Only the operator registers, changes or removes a line: a line is a SIM card in a machine the
operator runs. A tenant sees its own lines and drives them (dial, hang up, events); another
tenant's line is "not found", never "forbidden", so line IMEIs cannot be probed.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from admin.dependencies import ModemClient, database_url, get_line_pool
from admin.schemas import DialRequest
from infra.auth import Admin, Principal, Reader
from infra.http_errors import APIError
from personas.registry import PersonaNotFound, PersonaRegistry
from telephony.lines import Line, LineRegistry

router = APIRouter(prefix="/lines", tags=["lines"])
Imei = Annotated[str, Path(pattern=r"^\d{15}$", description="The modem's IMEI (AT+CGSN).")]


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant_id: str = Field(min_length=1, max_length=64, description="Whose line it is: its calls and minutes are theirs.")
    persona: str = Field(pattern=r"^[a-z][a-z0-9_-]{1,31}$", description="Who answers it.")
    label: str = Field(default="", max_length=64, description="The owner's name for it, e.g. 'Reception'.")
    enabled: bool = True


def registry() -> LineRegistry:
    return LineRegistry(database_url())


def pool() -> Any:
    lines = get_line_pool()
    if lines is None:
        raise APIError(503, "this cluster runs no modem lines (the profile's modem.enabled is false)", code="modem_disabled")
    return lines


def operator_only(principal: Principal) -> None:
    if principal.tenant_id is not None:
        raise APIError(403, "only the operator registers, changes or removes lines", code="forbidden")


async def visible_line(principal: Principal, imei: str) -> Line:
    line = await registry().get(imei, tenant_id=principal.tenant_id)
    if line is None:
        raise APIError(404, f"no line {imei}", param="imei", code="line_not_found")
    return line


async def line_client(principal: Admin, imei: Imei) -> ModemClient:
    line = await visible_line(principal, imei)
    lines = pool()
    client = lines.client(line.imei)
    if client is None:
        await lines.sync()
        client = lines.client(line.imei)
    if client is None:
        raise APIError(409, f"line {imei} is disabled", code="line_disabled")
    return client


LineClient = Annotated[ModemClient, Depends(line_client)]


async def _status(client: ModemClient | None) -> dict[str, Any]:
    if client is None:
        return {"modem": "disabled"}
    try:
        return await client.call("status", timeout_s=5)
    except TimeoutError:
        return {"modem": "unavailable", "error": "the line's node does not answer"}
    except APIError as exc:
        return {"modem": "unavailable", "error": exc.message}


@router.get("")
async def list_lines(principal: Reader) -> dict:
    lines = await registry().list(tenant_id=principal.tenant_id)
    running = get_line_pool()
    statuses = await asyncio.gather(*(_status(running.client(x.imei) if running else None) for x in lines))
    return {"items": [{**x.as_dict(), "status": s} for x, s in zip(lines, statuses, strict=True)]}


@router.put("/{imei}")
async def put_line(principal: Admin, imei: Imei, body: LineIn) -> dict:
    operator_only(principal)
    try:
        await PersonaRegistry(database_url(), body.tenant_id, with_shared=True).get(body.persona)
    except PersonaNotFound:
        raise APIError(400, f"tenant {body.tenant_id!r} has no persona {body.persona!r}", param="persona") from None
    line = await registry().put(Line(imei, body.tenant_id, body.persona, body.label, body.enabled))
    running = get_line_pool()
    if running is not None:
        await running.sync()
    return line.as_dict()


@router.delete("/{imei}", status_code=204)
async def delete_line(principal: Admin, imei: Imei) -> None:
    operator_only(principal)
    if not await registry().delete(imei):
        raise APIError(404, f"no line {imei}", param="imei", code="line_not_found")
    running = get_line_pool()
    if running is not None:
        await running.sync()


@router.get("/{imei}")
async def get_line(principal: Reader, imei: Imei) -> dict:
    line = await visible_line(principal, imei)
    running = get_line_pool()
    return {**line.as_dict(), "status": await _status(running.client(imei) if running else None)}


@router.post("/{imei}/calls", status_code=202)
async def dial(_: Admin, client: LineClient, body: DialRequest) -> dict:
    return await client.call("dial", body.number, body.greeting)


@router.post("/{imei}/calls/{call_id}/hangup")
async def hang_up(_: Admin, client: LineClient, call_id: Annotated[str, Path(max_length=64)]) -> dict:
    result = await client.call("hang_up", call_id)
    if not result["hung_up"]:
        raise APIError(404, f"call {call_id!r} is not in progress on this line", param="call_id", code="call_not_active")
    return result


@router.get("/{imei}/events")
async def events(
    _: Reader,
    client: LineClient,
    after: Annotated[int, Query(ge=0)] = 0,
    timeout_s: Annotated[float, Query(ge=0, le=30)] = 15.0,
) -> dict:
    """The line's events after ``after`` (long poll up to ``timeout_s``): calls ringing, answered, ended."""
    return {"events": await client.call("events", after, timeout_s, timeout_s=timeout_s + 10)}
