"""What the admin routes depend on, as ``Annotated`` aliases."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, ClassVar

from fastapi import Depends

from infra.auth import Principal, require_reader
from infra.http_errors import APIError
from infra.recordings import RecordingStore
from infra.settings import get_settings
from personas.adapter_store import AdapterStore
from personas.registry import PersonaRegistry
from telephony.call_store import CallStore


class ModemClient:
    """The ingress actor as the routes see it: awaitable calls, actor errors as HTTP errors."""

    STATUS: ClassVar[dict[str, int]] = {
        "number_refused": 403,
        "line_busy": 409,
        "modem_unavailable": 503,
        "invalid_request": 400,
    }

    def __init__(self, actor: Any) -> None:
        self.actor = actor

    async def call(self, method: str, *args: Any, timeout_s: float = 60.0) -> Any:
        result = await asyncio.wait_for(getattr(self.actor, method).remote(*args), timeout_s)
        if isinstance(result, dict) and "error" in result:
            err = result["error"]
            raise APIError(self.STATUS.get(err["type"], 500), err["message"], code=err["type"])
        return result


# One replica is one process: its constructor fills these once (see deployments/ingress/dependencies.py).
_store: CallStore | None = None
_modem: ModemClient | None = None
_personas: PersonaRegistry | None = None
_gate: Any = None  # billing.gate.UsageGate, or None when metering is off


def bind(
    store: CallStore | None, modem: ModemClient | None, personas: PersonaRegistry | None = None, gate: Any = None
) -> None:
    global _store, _modem, _personas, _gate
    _store, _modem, _personas = store, modem, personas or (PersonaRegistry(store.url) if store else None)
    _gate = gate


def database_url() -> str | None:
    """The database this replica's records are in (the bound call store's; None: the settings')."""
    return _store.url if _store is not None else None


def get_gate() -> Any:
    return _gate


_finetune: Any = None  # finetune.jobs.FinetuneJobs


def get_finetune() -> Any:
    """The fine-tuning jobs (Ray Jobs on this cluster), made on first use; replaced in tests."""
    global _finetune
    if _finetune is None:
        from finetune.jobs import FinetuneJobs

        _finetune = FinetuneJobs(database_url=_store.url if _store else None, gate=_gate)
    return _finetune


def bind_finetune(jobs: Any) -> None:
    global _finetune
    _finetune = jobs


_recordings: RecordingStore | None = None


def get_recordings() -> RecordingStore:
    """The encrypted recordings (settings' directories); replaced in tests through ``bind_recordings``."""
    global _recordings
    if _recordings is None:
        _recordings = RecordingStore()
    return _recordings


def bind_recordings(recordings: RecordingStore | None) -> None:
    global _recordings
    _recordings = recordings


def get_store(principal: Annotated[Principal, Depends(require_reader)]) -> CallStore:
    """The call records the caller may see: a signed-in user's own tenant's, the operator's all."""
    if _store is None:
        raise RuntimeError("the admin app is not initialised")
    if principal.tenant_id is None:
        return _store
    return CallStore(_store.url, tenant_id=principal.tenant_id)


def get_personas(principal: Annotated[Principal, Depends(require_reader)]) -> PersonaRegistry:
    """The personas the caller may see and change, scoped like the call records."""
    if _personas is None:
        raise RuntimeError("the admin app is not initialised")
    adapters = AdapterStore(get_settings().adapters_dir)
    return PersonaRegistry(_personas.url, principal.tenant_id, _personas.models_dir, adapters=adapters)


def get_modem(principal: Annotated[Principal, Depends(require_reader)]) -> ModemClient:
    """The modem line, for the operator and for the tenant whose line it is (``SECRETARY_MODEM_TENANT``).

    Signup is public: any other tenant's session would otherwise dial through the line (premium and
    international numbers included), text from it, hang up its calls and read its callers' numbers,
    all paid for by the line's tenant. They get 403 on every modem route.
    """
    if principal.tenant_id is not None and principal.tenant_id != get_settings().modem_tenant:
        raise APIError(403, "this modem line belongs to another tenant", code="forbidden")
    if _modem is None:
        raise APIError(
            503, "no modem is configured on this cluster (the profile's modem.enabled is false)", code="modem_disabled"
        )
    return _modem


_line_pool: Any = None  # admin.line_pool.LinePool, when the profile enables modems


def bind_lines(pool: Any) -> None:
    global _line_pool
    _line_pool = pool


def get_line_pool() -> Any:
    return _line_pool


def get_modem_client() -> ModemClient | None:
    """The profile's line, without the per-request checks (probes)."""
    return _modem


Store = Annotated[CallStore, Depends(get_store)]
Modem = Annotated[ModemClient, Depends(get_modem)]
Personas = Annotated[PersonaRegistry, Depends(get_personas)]
Finetune = Annotated[Any, Depends(get_finetune)]
Gate = Annotated[Any, Depends(get_gate)]
Recordings = Annotated[RecordingStore, Depends(get_recordings)]
