"""The registered lines' ingress actors, kept in step with the line registry.

Each enabled line in ``telephony/lines.py`` gets its own actor (``ingress_actor.get_or_create``
with the line), found on the node that has the modem by its ``line_<IMEI>`` resource. The pool
syncs on every health check of the admin app and at once after the operator changes a line: new
lines start, changed ones restart with their new tenant or persona, removed or disabled ones are
drained (the call in progress ends in words) and their actors removed. Each line has its own
``LineWatch``, so a lost office machine ends that line's calls and no other's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from admin.dependencies import ModemClient
from admin.line_watch import LineWatch
from infra.logging import get_logger
from telephony.call_store import CallStore
from telephony.lines import Line, LineRegistry

log = get_logger(__name__)


class LinePool:
    def __init__(self, registry: LineRegistry, spec: dict[str, Any], create: Callable[..., Any] | None = None) -> None:
        self.registry, self.spec = registry, spec
        self._create = create
        self.lines: dict[str, Line] = {}
        self.clients: dict[str, ModemClient] = {}
        self.watches: dict[str, LineWatch] = {}
        self._lock = asyncio.Lock()

    def _actor(self, line: Line) -> Any:
        if self._create is None:
            from telephony.ingress_actor import get_or_create

            self._create = get_or_create
        return self._create(self.spec, line.as_dict())

    async def sync(self) -> None:
        async with self._lock:
            wanted = {line.imei: line for line in await self.registry.list(enabled_only=True)}
            for imei in [i for i in self.lines if i not in wanted or wanted[i] != self.lines[i]]:
                await self._retire(imei)
            for imei, line in wanted.items():
                if imei not in self.lines:
                    actor = self._actor(line)
                    self.lines[imei], self.clients[imei] = line, ModemClient(actor)
                    self.watches[imei] = LineWatch(actor, CallStore(self.registry.url, tenant_id=line.tenant_id, line=imei))
                    actor.status.remote()  # bring the line up now
                    log.info("lines.started", imei=imei, tenant=line.tenant_id, persona=line.persona)
        for watch in list(self.watches.values()):
            with contextlib.suppress(Exception):
                await watch.check()

    async def _retire(self, imei: str) -> None:
        self.lines.pop(imei, None)
        self.watches.pop(imei, None)
        client = self.clients.pop(imei, None)
        if client is None:
            return
        with contextlib.suppress(Exception):
            await client.call("stop", timeout_s=30)
        import ray

        if ray.is_initialized():  # in a replica, always; never start a Ray just to kill (tests' fakes)
            with contextlib.suppress(Exception):
                ray.kill(client.actor, no_restart=True)
        log.info("lines.retired", imei=imei)

    def client(self, imei: str) -> ModemClient | None:
        return self.clients.get(imei)
