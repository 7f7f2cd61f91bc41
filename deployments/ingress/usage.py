"""The ingress's use of the usage gate (``billing/gate.py``): refuse over the limit, count what was served.

Each paid route asks before it works (HTTP 402 when the month's limit is used up) and records
after it has delivered, with the request id as the event id, so a retried record counts once.
Transcription knows its amount up front (the file's duration) and consumes it atomically, so
concurrent uploads cannot pass the limit together. Without a gate (``SECRETARY_METERING=false``)
nothing is limited or counted.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from billing.gate import UsageGate
from infra.logging import get_logger

log = get_logger(__name__)
_gate: UsageGate | None = None


def bind_gate(gate: UsageGate | None) -> None:
    global _gate
    _gate = gate


def get_gate() -> UsageGate | None:
    return _gate


Gate = Annotated[UsageGate | None, Depends(get_gate)]


def tenant_of(request: Request) -> str | None:
    principal = getattr(request.state, "principal", None)
    return getattr(principal, "tenant_id", None)


async def check(gate: UsageGate | None, request: Request, metric: str) -> None:
    tenant = tenant_of(request)
    if gate is not None and tenant is not None:
        await gate.check(tenant, metric)


async def consume(gate: UsageGate | None, request: Request, metric: str, amount: int) -> None:
    tenant = tenant_of(request)
    if gate is not None and tenant is not None:
        await gate.consume(tenant, metric, amount, f"{metric}:{request.state.usage_id}")


async def record(gate: UsageGate | None, tenant: str | None, metric: str, amount: int, event_id: str) -> None:
    """Count delivered work; a failure is logged, never turned into an error for what was served."""
    if gate is None or tenant is None or amount <= 0:
        return
    try:
        await gate.record(tenant, metric, amount, event_id)
    except Exception as exc:
        log.error("usage.record_failed", tenant=tenant, metric=metric, amount=amount, error=type(exc).__name__)
