"""``/admin/readyz``: is every modem line ready? (The models' readiness is the ingress's ``/readyz``.)

Public like any probe, so it names no line: the profile's line and how many registered lines are
ready. 503 while any is not, so a balancer or an operator's check sees a lost office machine.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from admin.dependencies import get_line_pool, get_modem_client

router = APIRouter(tags=["health"])


async def _ready(client) -> bool:
    try:
        return (await client.call("status", timeout_s=5)).get("modem") == "ready"
    except Exception:
        return False


@router.get("/readyz")
async def readyz() -> JSONResponse:
    checks: dict[str, str] = {}
    ok = True
    modem = get_modem_client()
    if modem is not None:
        up = await _ready(modem)
        checks["modem"], ok = ("ready" if up else "not ready"), ok and up
    pool = get_line_pool()
    if pool is not None and pool.clients:
        ready = await asyncio.gather(*(_ready(c) for c in list(pool.clients.values())))
        checks["lines"], ok = f"{sum(ready)} of {len(ready)} ready", ok and all(ready)
    return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503)
