"""The simulator on its own event loop in a background thread, for processes whose own loop is
busy or absent (the demo, benchmarks, and tests that drive a cluster from a synchronous test).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from telephony.simulator.faults import Faults
from telephony.simulator.modem import SimConfig, SimulatedModem

T = TypeVar("T")


class SimulatorThread:
    def __init__(self, link_dir: Path, config: SimConfig | None = None, faults: Faults | None = None) -> None:
        self.modem = SimulatedModem(Path(link_dir), config, faults)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="modem-sim", daemon=True)

    def start(self) -> SimulatorThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.modem.start(), self._loop).result(10)
        return self

    def call(self, fn: Callable[..., T], *args: Any, timeout_s: float = 10.0) -> T:
        """Run ``fn(*args)`` on the simulator's loop (a coroutine function is awaited there)."""

        async def run() -> T:
            result = fn(*args)
            if asyncio.iscoroutine(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout_s)

    def stop(self) -> None:
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self.modem.stop(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
