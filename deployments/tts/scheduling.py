"""Which synthesis runs next: the one whose listener runs out of audio first.

A TTS replica on the CPU profile synthesises one sentence at a time (two concurrent runs on two
cores only thrash), so when several calls want audio at once they queue. In arrival order, a
call that still has seconds of reply buffered can go ahead of one whose caller is about to hear
silence. Each request therefore says how much audio its listener has buffered (``slack_s``), and
each step of it (a sentence) gets a deadline: the request's arrival plus its slack plus the
audio it has produced so far. Waiting steps start earliest deadline first; a request that
names no slack (the HTTP speech API, a call's first words) is due on arrival, so those keep
arrival order among themselves.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

T = TypeVar("T")


class DeadlineScheduler:
    """At most ``slots`` steps at a time; a freed slot goes to the waiting step due first."""

    def __init__(self, slots: int = 1) -> None:
        if slots < 1:
            raise ValueError("slots must be at least 1")
        self.slots = slots
        self._free = slots
        self._waiting: list[tuple[float, int, asyncio.Future]] = []
        self._order = itertools.count()

    @property
    def waiting(self) -> int:
        return sum(1 for *_, fut in self._waiting if not fut.done())

    @asynccontextmanager
    async def slot(self, deadline: float) -> AsyncIterator[None]:
        if self._free > 0 and not self.waiting:
            self._free -= 1
        else:
            fut = asyncio.get_running_loop().create_future()
            heapq.heappush(self._waiting, (deadline, next(self._order), fut))
            try:
                await fut
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():
                    self._release()  # the slot was handed over just as the waiter was cancelled
                raise
        try:
            yield
        finally:
            self._release()

    async def run(self, deadline: float, fn: Callable[[], T]) -> T:
        """``fn`` in a worker thread, in its turn. The slot is held until the thread is done, even
        if the caller is cancelled meanwhile (the thread cannot be stopped, and its cores are busy)."""
        async with self.slot(deadline):
            work = asyncio.ensure_future(asyncio.to_thread(fn))
            try:
                return await asyncio.shield(work)
            except asyncio.CancelledError:
                await asyncio.wait([work])
                raise

    def _release(self) -> None:
        while self._waiting:
            _, _, fut = heapq.heappop(self._waiting)
            if not fut.done():
                fut.set_result(None)
                return
        self._free += 1
