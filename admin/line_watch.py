"""Notice when a modem line's ingress actor is lost, and close that line's calls at once.

The actor lives on the office machine with the modem. When that machine (its Ray node) dies, the
call it carried dies with it, and its record would say "active" until the machine came back and
the restarted actor closed it. The admin app asks Ray for the actor's state on every health check
(``AdminApi.check_health``, every 10 s): an actor Ray is restarting, or has given up, means the
line's calls in progress are over. They end as ``ingress_lost``: the owner's call history and the
"calls in progress" figures are right within seconds, and the line comes back by itself when its
node does (the actor is detached and restarted without limit).
"""

from __future__ import annotations

import asyncio
from typing import Any

from infra.logging import get_logger
from telephony.call_store import CallStore

log = get_logger(__name__)
LOST_STATES = ("RESTARTING", "DEAD")


def actor_state(actor: Any) -> str | None:
    """The actor's state as Ray's state API reports it (None when Ray cannot say)."""
    from ray.util.state import get_actor

    try:
        info = get_actor(actor._actor_id.hex(), timeout=5)
    except Exception as exc:  # the dashboard busy or restarting: no verdict this round
        log.debug("line_watch.state_unavailable", error=type(exc).__name__)
        return None
    return None if info is None else info.state


class LineWatch:
    def __init__(self, actor: Any, store: CallStore, state=actor_state) -> None:
        self.actor, self.store, self._state = actor, store, state
        self.lost = False

    async def check(self) -> str | None:
        state = await asyncio.to_thread(self._state, self.actor)
        if state in LOST_STATES and not self.lost:
            self.lost = True
            closed = await self.store.close_dangling("ingress_lost")
            log.warning("line_watch.ingress_lost", state=state, calls_closed=closed)
        elif state == "ALIVE" and self.lost:
            self.lost = False
            log.info("line_watch.ingress_back")
        return state
