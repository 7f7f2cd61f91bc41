"""A job that runs every few minutes in an app's event loop, for as long as the app lives."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from infra.logging import get_logger

log = get_logger(__name__)


class Periodic:
    """Runs ``job`` now and then every ``interval_s``; a failing run is logged and the next one comes.

    ``start`` may be called before any event loop runs (a Serve constructor) and again on every
    request: the job starts once, in the first running loop.
    """

    def __init__(self, name: str, job: Callable[[], Awaitable[object]], interval_s: float) -> None:
        self.name, self.job, self.interval_s = name, job, interval_s
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self._task is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._task = loop.create_task(self._forever(), name=self.name)

    async def _forever(self) -> None:
        while True:
            try:
                await self.job()
            except Exception as exc:  # the database away: try again next time
                log.warning("periodic.failed", job=self.name, error=type(exc).__name__)
            await asyncio.sleep(self.interval_s)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
