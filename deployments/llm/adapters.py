"""LoRA adapters on one vLLM engine: which are registered, and never too many.

The LLM replica serves every persona's adapter from one engine. Ray Serve's model multiplexing
decides which adapters a replica holds (and routes a persona's requests to the replicas that
already hold its adapter); this module is what "holding" means on the engine side:

- ``AdapterSpec`` names one published adapter version. Its multiplexed id is
  ``<name>@v<version>``, so publishing a new version is simply a new id: the next request loads
  it while requests on the old version finish on the old weights. Nothing restarts.
- ``EngineAdapters`` keeps the engine's registered adapters below its LoRA slots. vLLM's CPU
  build has a slot bug (``shared/spec/cpu-profile.md``): once as many adapters have been
  resident as ``max_loras``, base requests batched with adapter requests come back with an
  adapter's tokens, and removing adapters afterwards does not repair it. Measured here: it never
  happens while the registered adapters stay below ``max_loras`` at every moment, with the old
  one removed before the next is added. A replica holds at most ``max_adapters``; evicted ones
  that still stream stay registered until their last request ends. So the engine gets
  ``max_loras = 2 * max_adapters + 1`` and a load waits (rarely) until the count is below ``2 * max_adapters``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
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


class EngineAdapters:
    """The engine's registered adapters, never more than ``limit`` (one below its LoRA slots)."""

    def __init__(self, engine: Any, limit: int) -> None:
        if limit < 1:
            raise ValueError("at least one adapter must fit")
        self.engine, self.limit = engine, limit
        self.registered: set[int] = set()
        self._changed = asyncio.Event()
        self._lock = asyncio.Lock()

    async def add(self, lora_request: Any) -> None:
        async with self._lock:
            while len(self.registered) >= self.limit:  # evicted adapters still streaming: wait for one
                await self._changed.wait()
            await self.engine.add_lora(lora_request)
            self.registered.add(lora_request.lora_int_id)

    async def remove(self, lora_id: int) -> None:
        try:
            await self.engine.remove_lora(lora_id)
        finally:
            self.registered.discard(lora_id)
            changed, self._changed = self._changed, asyncio.Event()
            changed.set()


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
    adapters: EngineAdapters
    in_flight: int = 0
    retired: bool = False
    removed: bool = False
    _tasks: set[asyncio.Task] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        self.__del__ = self.evict

    async def evict(self) -> None:
        self.retired = True
        if self.in_flight == 0:
            await self._remove()  # before the multiplexer loads the next one

    def acquire(self) -> None:
        self.in_flight += 1

    def release(self) -> None:
        self.in_flight -= 1
        if self.retired and self.in_flight == 0:
            task = asyncio.get_running_loop().create_task(self._remove())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _remove(self) -> None:
        if not self.removed:
            self.removed = True
            await self.adapters.remove(self.lora_request.lora_int_id)


# Hugging Face module names as vLLM packs them into fused layers.
PACKED = {
    "q_proj": "qkv_proj",
    "k_proj": "qkv_proj",
    "v_proj": "qkv_proj",
    "gate_proj": "gate_up_proj",
    "up_proj": "gate_up_proj",
}


def unserved_modules(adapter_dir: Path, served: list[str] | None) -> list[str]:
    """The adapter's target modules that the engine does not apply LoRA to (empty: all served).

    A profile may restrict LoRA to some layers (``lora_target_modules``) because every wrapped
    layer costs time on each token; an adapter trained on others would silently lose part of
    its weights, so it is refused instead.
    """
    if not served:
        return []
    try:
        config = json.loads((adapter_dir / "adapter_config.json").read_text())
    except (OSError, ValueError):
        return []  # missing or unreadable: vLLM's own load reports it
    targets = config.get("target_modules") or []
    if isinstance(targets, str):
        return [] if targets in served else [targets]
    return sorted({t for t in targets if PACKED.get(t.rsplit(".", 1)[-1], t.rsplit(".", 1)[-1]) not in served})


_lora_ids = itertools.count(1)


def next_lora_id() -> int:
    """vLLM wants a process-unique positive int per adapter version it has seen."""
    return next(_lora_ids)
