"""Connect Serve handles to their deployments before the first request that matters.

A handle's first request builds its router, which makes an actor handle per replica and loads
the replica's actor class from the GCS (a cloudpickle load). On the CPU profile's two cores that
held the GIL for ~150 ms, measured with py-spy in the modem ingress actor: every thread of the
process stops for it, the 20 ms uplink pacer included, and the caller hears a gap at the start
of the greeting. A process that keeps a real-time clock pays this at start-up instead, with one
cheap ``ready()`` call per deployment (every model deployment here has one).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from infra.logging import get_logger

log = get_logger(__name__)


async def connect(handles: Mapping[str, Any], timeout_s: float) -> dict[str, bool]:
    """Send ``ready()`` through each handle, all at once; returns which deployments answered.

    A deployment that is down or still loading is logged and skipped, never fatal: its first
    real request connects the handle then, as it would have without this.
    """

    async def one(name: str, handle: Any) -> bool:
        try:
            return bool(await asyncio.wait_for(_ready(handle), timeout_s))
        except Exception as exc:  # any failure just means "not connected yet"
            log.warning("handles.not_connected", deployment=name, error=type(exc).__name__, message=str(exc)[:200])
            return False

    names = list(handles)
    results = await asyncio.gather(*(one(n, handles[n]) for n in names))
    connected = dict(zip(names, results, strict=True))
    log.info("handles.connected", **connected)
    return connected


async def _ready(handle: Any) -> Any:
    return await handle.ready.remote()
