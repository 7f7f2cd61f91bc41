"""The LLM Serve deployment: one vLLM async engine per replica, streaming chat deltas.

Persona adapters are Serve multiplexed models: a caller sets ``multiplexed_model_id`` to the
adapter's id (``<name>@v<version>``) and passes the adapter's spec; Serve routes the request to
a replica that already holds the adapter, and a replica that does not loads it on first use,
evicting its least recently used adapter. Outside a Serve replica (tests, in-process benchmarks)
the same load and eviction run through a small local LRU.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ray import serve
from ray.serve.context import _get_internal_replica_context

from deployments.errors import AdapterUnavailableError
from deployments.llm.adapters import AdapterSpec, EngineAdapters, LoadedAdapter, next_lora_id, unserved_modules
from deployments.llm.engine import SamplingOptions, VLLMChatEngine, VLLMConfig
from deployments.llm.orphans import reap_orphaned_engines
from infra import metrics
from infra.logging import bind_context, configure_from_settings, get_logger
from infra.settings import get_settings

log = get_logger(__name__)
LLM_TTFT = metrics.histogram("llm_time_to_first_token_seconds", "Request in to first token out", ("model",))
LLM_TOKENS = metrics.counter("llm_tokens_total", "Tokens processed", ("model", "kind"))
ADAPTER_LOAD = metrics.histogram("llm_adapter_load_seconds", "Time to load a LoRA adapter into the engine", ("model",))


def local_lru(load: Callable[[str], Awaitable[LoadedAdapter]], capacity: int) -> Callable[[str], Awaitable[LoadedAdapter]]:
    """What ``serve.multiplexed`` does inside a replica, for an LLMServer built outside Serve."""
    cache: OrderedDict[str, LoadedAdapter] = OrderedDict()
    lock = asyncio.Lock()  # one load at a time, as Serve's multiplexer does: no double registration

    async def get(adapter_id: str) -> LoadedAdapter:
        async with lock:
            if adapter_id in cache:
                cache.move_to_end(adapter_id)
                return cache[adapter_id]
            while len(cache) >= capacity:
                _, old = cache.popitem(last=False)
                await old.evict()
            cache[adapter_id] = await load(adapter_id)
            return cache[adapter_id]

    return get


@serve.deployment(name="LLMServer", max_ongoing_requests=32)
class LLMServer:
    def __init__(self, spec: dict) -> None:
        configure_from_settings()
        t0 = time.monotonic()
        if _get_internal_replica_context() is not None:
            reap_orphaned_engines()  # a killed predecessor's engine would hold the memory this one needs
        self.config = VLLMConfig.from_dict(spec)
        self._resolve = get_settings().resolve_model_path
        self.engine = VLLMChatEngine(self.config, resolve_path=self._resolve)
        self.adapters = EngineAdapters(self.engine.engine, self.config.adapter_limit)
        self._specs: dict[str, AdapterSpec] = {}

        async def load_adapter(adapter_id: str) -> LoadedAdapter:
            return await self._load_adapter(adapter_id)

        if _get_internal_replica_context() is not None:
            self._get_adapter = serve.multiplexed(max_num_models_per_replica=self.config.max_adapters)(load_adapter)
        else:
            self._get_adapter = local_lru(load_adapter, self.config.max_adapters)
        log.info("llm.ready", model=self.config.model_id, load_s=round(time.monotonic() - t0, 2))

    async def model_info(self) -> dict:
        plan = self.engine.plan
        return {
            "id": self.config.model_id,
            "max_model_len": self.engine.max_model_len,
            "lora": self.config.lora_enabled,
            "max_adapters": self.config.max_adapters,
            "cpu_plan": plan.as_dict() if plan else None,
        }

    async def loaded_adapters(self) -> list[int]:
        """The engine's registered adapter ids (to check eviction in tests and benchmarks)."""
        return sorted(await self.engine.engine.list_loras())

    async def _load_adapter(self, adapter_id: str) -> LoadedAdapter:
        from vllm.lora.request import LoRARequest

        spec = self._specs[adapter_id]
        path = str(self._resolve(spec.path))
        served = self.config.engine_args.get("lora_target_modules")
        extra = unserved_modules(Path(path), served)
        if extra:
            raise AdapterUnavailableError(
                f"the adapter {spec.id} trains {', '.join(extra)}, but this model server applies LoRA only to "
                f"{', '.join(served)} (lora_target_modules in the profile)",
                param="model",
                code="adapter_unavailable",
            )
        request = LoRARequest(lora_name=spec.id, lora_int_id=next_lora_id(), lora_path=path)
        t0 = time.monotonic()
        try:
            await self.adapters.add(request)
        except Exception as exc:  # vLLM raises its own types for missing, corrupt or too-large adapters
            log.warning("llm.adapter_load_failed", adapter=spec.id, error=str(exc)[:300])
            raise AdapterUnavailableError(
                f"the adapter {spec.id} cannot be loaded: {str(exc)[:300]}", param="model", code="adapter_unavailable"
            ) from None
        ADAPTER_LOAD.observe(time.monotonic() - t0, model=self.config.model_id)
        log.info("llm.adapter_loaded", adapter=spec.id, load_ms=round((time.monotonic() - t0) * 1000, 1))
        return LoadedAdapter(spec, request, self.adapters)

    async def _adapter(self, adapter: dict[str, Any] | None) -> LoadedAdapter | None:
        if adapter is None:
            return None
        if not self.config.lora_enabled:
            raise AdapterUnavailableError(
                "this model server runs without LoRA; no adapter can be used", param="model", code="adapter_unavailable"
            )
        try:
            spec = AdapterSpec.from_dict(adapter)
        except (KeyError, ValueError, TypeError) as exc:
            raise AdapterUnavailableError(
                f"invalid adapter spec: {exc}", param="model", code="adapter_unavailable"
            ) from None
        self._specs[spec.id] = spec
        return await self._get_adapter(spec.id)

    async def ready(self) -> bool:
        await self.engine.check_health()
        return True

    async def check_health(self) -> None:
        """Called by Serve: a dead engine core marks the replica unhealthy so Serve replaces it."""
        await self.engine.check_health()

    async def chat(
        self, messages: list[dict], options: dict, request_id: str | None = None, adapter: dict[str, Any] | None = None
    ) -> AsyncIterator[dict]:
        """Stream the reply; ``adapter`` (``{"name", "version", "path"}``) selects a LoRA adapter."""
        if request_id:
            bind_context(request_id=request_id)
        t0 = time.monotonic()
        loaded = await self._adapter(adapter)
        if loaded:
            loaded.acquire()  # before any await: an eviction now waits for this request
        try:
            first = True
            async for delta in self.engine.chat(
                messages, SamplingOptions(**options), request_id, lora_request=loaded.lora_request if loaded else None
            ):
                if first:
                    LLM_TTFT.observe(time.monotonic() - t0, model=self.config.model_id)
                    first = False
                if delta.finish_reason:
                    LLM_TOKENS.inc(delta.prompt_tokens, model=self.config.model_id, kind="prompt")
                    LLM_TOKENS.inc(delta.completion_tokens, model=self.config.model_id, kind="completion")
                yield asdict(delta)
        finally:
            if loaded:
                loaded.release()

    def __del__(self) -> None:
        engine = getattr(self, "engine", None)
        if engine is not None:
            try:
                engine.shutdown()
            except Exception:  # interpreter teardown: the engine's modules may already be gone
                pass
