"""A bounded, sequenced log of call events that the admin API streams (SSE) and pages through.

Events carry no personal data beyond the masked number. Readers ask for "everything after
sequence N", waiting up to a timeout for something new, so a reconnecting SSE client resumes
from its ``Last-Event-ID`` without gaps (unless it fell more than ``capacity`` events behind).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class CallEvent:
    seq: int
    type: str  # "call.ringing", "call.answered", "call.ended", "call.declined", "sms.received", "modem.lost", …
    at: float
    data: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class EventLog:
    def __init__(self, capacity: int = 1000) -> None:
        self._events: deque[CallEvent] = deque(maxlen=capacity)
        self._seq = 0
        self._changed = asyncio.Condition()

    @property
    def last_seq(self) -> int:
        return self._seq

    def publish(self, type_: str, **data: Any) -> CallEvent:
        self._seq += 1
        event = CallEvent(self._seq, type_, time.time(), data)
        self._events.append(event)
        asyncio.get_running_loop().create_task(self._notify())
        return event

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def since(self, after: int) -> list[CallEvent]:
        return [e for e in self._events if e.seq > after]

    async def wait(self, after: int, timeout_s: float) -> list[CallEvent]:
        """Events after ``after``; waits up to ``timeout_s`` for one if there are none yet."""
        events = self.since(after)
        if events:
            return events
        try:
            async with self._changed:
                await asyncio.wait_for(self._changed.wait_for(lambda: self._seq > after), timeout_s)
        except TimeoutError:
            return []
        return self.since(after)
