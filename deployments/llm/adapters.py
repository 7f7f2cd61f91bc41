"""LoRA adapters on one vLLM engine: which are loaded, and how many may run in one batch.

The LLM replica serves every persona's adapter from one engine. Ray Serve's model multiplexing
decides which adapters a replica holds (and routes a persona's requests to the replicas that
already hold its adapter); this module is what "holding" means on the engine side:

- ``AdapterSpec`` names one published adapter version. Its multiplexed id is
  ``<name>@v<version>``, so publishing a new version is simply a new id: the next request loads
  it while requests on the old version finish on the old weights. Nothing restarts.
- ``AdapterSlots`` admits a request only while at most ``limit`` distinct adapters are in
  flight. vLLM's CPU build has a LoRA slot bug (``shared/spec/cpu-profile.md``): with as many
  adapters in a batch as ``max_loras``, a base request batched with them came back with an
  adapter's tokens. The engine gets ``max_loras = limit + 1`` so one slot always stays spare.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

ID_PATTERN = re.compile(r"(?P<name>[A-Za-z0-9._-]{1,64})@v(?P<version>[0-9]{1,9})")


@dataclass(frozen=True)
class AdapterSpec:
    """One published adapter version and where its files are (as the replica sees the path)."""

    name: str
    version: int
    path: str

    @property
    def id(self) -> str:
        return f"{self.name}@v{self.version}"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AdapterSpec:
        spec = cls(str(d["name"]), int(d["version"]), str(d["path"]))
        if not ID_PATTERN.fullmatch(spec.id):
            raise ValueError(f"invalid adapter name or version: {spec.id!r}")
        return spec


@dataclass
class LoadedAdapter:
    """An adapter registered with the engine under a unique integer id.

    Serve's multiplexer awaits the object's ``__del__`` when it evicts the adapter (least recently
    used). It is set per instance, not on the class, so garbage collection never calls a
    coroutine function. A request may still be streaming on the adapter, so removal from the
    engine waits for the last one.
    """

    spec: AdapterSpec
    lora_request: Any
    engine: Any
    in_flight: int = 0
    retired: bool = False
    _removal: asyncio.Task | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.__del__ = self.evict

    async def evict(self) -> None:
        self.retired = True
        self._maybe_remove()

    def acquire(self) -> None:
        self.in_flight += 1

    def release(self) -> None:
        self.in_flight -= 1
        self._maybe_remove()

    def _maybe_remove(self) -> None:
        if self.retired and self.in_flight == 0 and self._removal is None:
            self._removal = asyncio.get_running_loop().create_task(
                self.engine.remove_lora(self.lora_request.lora_int_id))


_lora_ids = itertools.count(1)


def next_lora_id() -> int:
    """vLLM wants a process-unique positive int per adapter version it has seen."""
    return next(_lora_ids)


class AdapterSlots:
    """Admission control: at most ``limit`` distinct adapters in flight; base requests always pass."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("at least one adapter slot is needed")
        self.limit = limit
        self.active: Counter[str] = Counter()
        self._changed = asyncio.Event()

    def _admits(self, key: str) -> bool:
        return key in self.active or len(self.active) < self.limit

    @asynccontextmanager
    async def hold(self, key: str | None) -> AsyncIterator[None]:
        if key is None:
            yield
            return
        while not self._admits(key):
            await self._changed.wait()
        self.active[key] += 1
        try:
            yield
        finally:
            self.active[key] -= 1
            if self.active[key] <= 0:
                del self.active[key]
                changed, self._changed = self._changed, asyncio.Event()
                changed.set()
