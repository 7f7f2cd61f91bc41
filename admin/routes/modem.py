"""The modem: status and the read-only diagnostic set, by name (never a raw AT string)."""

from __future__ import annotations

from fastapi import APIRouter

from admin.dependencies import Modem
from infra.auth import Admin, Reader
from telephony.at_commands import DIAGNOSTICS

router = APIRouter(prefix="/modem", tags=["modem"])


@router.get("/status")
async def modem_status(_: Reader, modem: Modem) -> dict:
    ingress = await modem.call("status")
    if ingress.get("modem") != "ready":
        return {"ingress": ingress, "modem": None}
    return {"ingress": ingress, "modem": await modem.call("modem_status")}


@router.get("/diagnostics")
async def list_diagnostics(_: Admin) -> dict:
    return {"diagnostics": sorted(DIAGNOSTICS)}


@router.get("/diagnostics/{name}")
async def run_diagnostic(_: Admin, modem: Modem, name: str) -> dict:
    return {"name": name, **await modem.call("diagnostic", name)}
