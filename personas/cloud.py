"""The cloud fallback LLM: any OpenAI-compatible provider, behind a circuit breaker.

The breaker is ``purgatory``'s (closed → opened after ``breaker_threshold`` failures in a row →
half-opened after ``recovery_s`` → closed on the first success, opened again on a failure). An
opened breaker refuses at once, so a dead provider costs the caller nothing: they hear the
persona's apology instead of waiting for a timeout. A caller that stops reading early (barge-in,
a closed connection) is not a provider failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from infra import metrics
from infra.logging import get_logger
from infra.settings import Settings

log = get_logger(__name__)
BREAKER_OPEN = metrics.gauge("llm_cloud_breaker_open", "1 while the cloud LLM's circuit breaker is open", ())
CIRCUIT = "cloud-llm"

CloudUnavailable = OpenedState  # raised, without a request, while the breaker is open


@dataclass(frozen=True)
class CloudConfig:
    base_url: str | None = None
    api_key: str | None = None
    model: str = "gpt-4o-mini"
    timeout_s: float = 20.0
    breaker_threshold: int = 3
    recovery_s: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings, tuning: dict[str, Any] | None = None) -> CloudConfig:
        """Where and who from settings (secrets stay out of YAML); timeouts and breaker from the profile."""
        return cls(
            base_url=settings.cloud_llm_base_url,
            api_key=settings.cloud_llm_api_key,
            model=settings.cloud_llm_model,
            **(tuning or {}),
        )


@dataclass(frozen=True)
class CloudDelta:
    text: str
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


class CloudLLM:
    def __init__(self, config: CloudConfig) -> None:
        from openai import AsyncOpenAI

        if not config.base_url:
            raise ValueError("the cloud LLM needs a base URL")
        self.config = config
        self.client = AsyncOpenAI(
            base_url=config.base_url, api_key=config.api_key or "unset", timeout=config.timeout_s, max_retries=0
        )
        self.breakers = AsyncCircuitBreakerFactory(
            default_threshold=config.breaker_threshold,
            default_ttl=config.recovery_s,
            exclude=[GeneratorExit, asyncio.CancelledError],
        )

    async def state(self) -> str:
        """ "closed", "opened" or "half-opened"."""
        return (await self.breakers.get_breaker(CIRCUIT)).context.state

    async def stream(self, messages: list[dict[str, str]], options: dict[str, Any]) -> AsyncIterator[CloudDelta]:
        breaker = await self.breakers.get_breaker(CIRCUIT)
        try:
            async with breaker:
                kwargs = {k: options[k] for k in ("temperature", "top_p", "seed") if options.get(k) is not None}
                if options.get("max_tokens"):
                    kwargs["max_tokens"] = options["max_tokens"]
                if options.get("stop"):
                    kwargs["stop"] = options["stop"]
                if options.get("json_schema") is not None:  # the same structure from the provider's own decoding
                    kwargs["response_format"] = {
                        "type": "json_schema",
                        "json_schema": {"name": "reply", "schema": options["json_schema"], "strict": True},
                    }
                elif options.get("json_object"):
                    kwargs["response_format"] = {"type": "json_object"}
                stream = await self.client.chat.completions.create(
                    model=self.config.model, messages=messages, stream=True, stream_options={"include_usage": True}, **kwargs
                )
                finish, usage = None, None
                async for chunk in stream:
                    if chunk.usage is not None:
                        usage = chunk.usage
                    for choice in chunk.choices:
                        if choice.delta and choice.delta.content:
                            yield CloudDelta(choice.delta.content)
                        finish = choice.finish_reason or finish
                if finish is None:
                    raise ConnectionError("the cloud LLM's stream ended without a finish reason")
                yield CloudDelta("", finish, usage.prompt_tokens if usage else 0, usage.completion_tokens if usage else 0)
        finally:
            BREAKER_OPEN.set(1.0 if breaker.context.state == "opened" else 0.0)
