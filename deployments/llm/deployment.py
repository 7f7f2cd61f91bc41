"""The LLM Serve deployment: one vLLM async engine per replica, streaming chat deltas."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import asdict

from ray import serve

from deployments.llm.engine import SamplingOptions, VLLMChatEngine, VLLMConfig
from infra import metrics
from infra.logging import bind_context, configure_from_settings, get_logger
from infra.settings import get_settings

log = get_logger(__name__)
LLM_TTFT = metrics.histogram("llm_time_to_first_token_seconds", "Request in to first token out", ("model",))
LLM_TOKENS = metrics.counter("llm_tokens_total", "Tokens processed", ("model", "kind"))


@serve.deployment(name="LLMServer", max_ongoing_requests=32)
class LLMServer:
    def __init__(self, spec: dict) -> None:
        configure_from_settings()
        t0 = time.monotonic()
        self.config = VLLMConfig.from_dict(spec)
        self.engine = VLLMChatEngine(self.config, resolve_path=get_settings().resolve_model_path)
        log.info("llm.ready", model=self.config.model_id, load_s=round(time.monotonic() - t0, 2))

    async def model_info(self) -> dict:
        return {"id": self.config.model_id, "max_model_len": self.engine.max_model_len}

    async def ready(self) -> bool:
        await self.engine.check_health()
        return True

    async def check_health(self) -> None:
        """Called by Serve: a dead engine core marks the replica unhealthy so Serve replaces it."""
        await self.engine.check_health()

    async def chat(self, messages: list[dict], options: dict, request_id: str | None = None) -> AsyncIterator[dict]:
        if request_id:
            bind_context(request_id=request_id)
        t0 = time.monotonic()
        first = True
        async for delta in self.engine.chat(messages, SamplingOptions(**options), request_id):
            if first:
                LLM_TTFT.observe(time.monotonic() - t0, model=self.config.model_id)
                first = False
            if delta.finish_reason:
                LLM_TOKENS.inc(delta.prompt_tokens, model=self.config.model_id, kind="prompt")
                LLM_TOKENS.inc(delta.completion_tokens, model=self.config.model_id, kind="completion")
            yield asdict(delta)

    def __del__(self) -> None:
        engine = getattr(self, "engine", None)
        if engine is not None:
            try:
                engine.shutdown()
            except Exception:  # interpreter teardown: the engine's modules may already be gone
                pass
