"""How a persona answers: FAQ first, then the local LLM with the persona's adapter, then the cloud.

One path for every transport: ``/v1/chat/completions`` streams ``ReplyDelta``s from
``stream()``; a call session uses ``for_persona()``, which speaks the pipeline's ``Responder``
protocol (text deltas). The caller builds the messages, system prompt included.

1. FAQ: a clear match (``personas/faq.py``) is answered at once, streamed word by word in the
   same shape as a generated reply, and counted.
2. The local engine: the persona's adapter goes as the Serve multiplexed model id, so the
   request lands on a replica that holds it. Failures before the first token (a replica that
   died, back-pressure, a timeout) are retried briefly with backoff (``tenacity``). Bad requests
   and unloadable adapters are not retried: the first is the client's to fix; the second marks
   the persona unavailable with the reason.
3. The cloud provider behind its circuit breaker (``personas/cloud.py``), if one is configured.
4. Nothing answers: a persona's caller hears its apology line as an ordinary reply; a request
   for the bare base model gets ``LLMUnavailable`` (HTTP 503). A stream that breaks after its
   first words ends with the apology too, rather than in the middle of a word.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from deployments.errors import AdapterUnavailableError, InvalidRequestError
from deployments.llm.engine import SamplingOptions
from infra import metrics
from infra.logging import get_logger
from personas.cloud import CloudLLM
from personas.faq import FaqConfig, FaqMatcher, render
from personas.schemas import Persona

log = get_logger(__name__)
REPLIES = metrics.counter("persona_replies_total", "Replies by persona and by who answered", ("persona", "source"))
WORD = re.compile(r"\s*\S+\s*")


class LLMUnavailable(RuntimeError):
    """Neither the local engine nor the cloud answered, and there is no persona to apologise."""


@dataclass(frozen=True)
class ReplyDelta:
    text: str
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    source: str = "local"  # "faq" | "local" | "cloud" | "apology"


@dataclass(frozen=True)
class ResponderConfig:
    local_attempts: int = 3
    local_backoff_s: float = 0.25
    first_token_timeout_s: float = 10.0
    faq: FaqConfig = field(default_factory=FaqConfig)

    @classmethod
    def from_dict(cls, d: dict | None) -> ResponderConfig:
        d = dict(d or {})
        return cls(faq=FaqConfig.from_dict(d.pop("faq", None)), **d)


def _transient(exc: BaseException) -> bool:
    """Worth another try on the local engine: a fast failure, not a refusal and not a timeout.

    A first token that takes longer than ``first_token_timeout_s`` (a replica being replaced, an
    overloaded engine) goes to the cloud at once: retrying would only make the caller wait more.
    A cancellation (a barge-in, a speculative reply voided by more speech) is not a failure: it
    was retried, so the reply went on asking the engine for nobody and its task did not end.
    """
    return isinstance(exc, Exception) and not isinstance(exc, InvalidRequestError | TimeoutError)


def last_user_text(messages: list[dict[str, str]]) -> str:
    for m in reversed(messages):
        if m.get("role") == "user":
            return str(m.get("content") or "")
    return ""


def persona_options(persona: Persona | None, base: dict[str, Any]) -> dict[str, Any]:
    """Sampling options with the persona's defaults over ``base``."""
    if persona is None:
        return dict(base)
    p = persona.sampling
    return {**base, "max_tokens": p.max_tokens, "temperature": p.temperature, "top_p": p.top_p}


class PersonaResponder:
    """Also a ``Responder`` itself: the bare base model with ``default_options``."""

    def __init__(
        self,
        llm: Any,
        faq: FaqMatcher | None = None,
        cloud: CloudLLM | None = None,
        registry: Any = None,
        config: ResponderConfig | None = None,
        default_options: dict[str, Any] | None = None,
        language_llms: dict[str, Any] | None = None,
    ) -> None:
        self.llm, self.faq, self.cloud, self.registry = llm, faq, cloud, registry
        # A persona whose language has a model of its own is answered by it (SmolLM2 speaks no Russian).
        self.language_llms = language_llms or {}
        self.config = config or ResponderConfig()
        self.default_options = default_options or asdict(SamplingOptions(max_tokens=120, temperature=0.3))
        self._background: set[asyncio.Task] = set()

    async def warm(self, persona: Persona | None = None) -> None:
        """Get the FAQ's embedding model ready (see ``FaqMatcher.warm``); failures only log."""
        if self.faq is None:
            return
        try:
            await self.faq.warm(persona)
        except Exception as exc:  # the FAQ is an optimisation: a call must not fail for it
            log.warning("persona.faq_warm_failed", error=type(exc).__name__)

    def for_persona(self, persona: Persona | None, options: dict[str, Any] | None = None) -> BoundResponder:
        return BoundResponder(self, persona, options or persona_options(persona, self.default_options))

    async def reply(self, messages: list[dict[str, str]]) -> AsyncIterator[str]:
        async for text in self.for_persona(None).reply(messages):
            yield text

    def llm_for(self, persona: Persona | None) -> Any:
        """The model server that answers ``persona``: its language's, else the default one."""
        if persona is None:
            return self.llm
        return self.language_llms.get(persona.language, self.language_llms.get(persona.language.split("-")[0], self.llm))

    async def stream(
        self,
        messages: list[dict[str, str]],
        options: dict[str, Any],
        persona: Persona | None = None,
        request_id: str | None = None,
        llm: Any = None,
    ) -> AsyncIterator[ReplyDelta]:
        """``llm``: a model server chosen by name (``/v1/chat/completions`` with a base model's id)."""
        name = persona.name if persona else "-"
        structured = options.get("json_schema") is not None or bool(options.get("json_object"))
        if persona is not None and self.faq is not None and not structured:  # a canned answer is not JSON
            hit = await self.faq.match(persona, last_user_text(messages))
            if hit is not None:
                REPLIES.inc(1, persona=name, source="faq")
                log.info("persona.faq_hit", persona=name, entry=hit.index, how=hit.how, score=round(hit.score, 3))
                self._count_hit(persona.name, hit.key)
                async for d in self._words(render(hit.entry.answer, persona), "faq"):
                    yield d
                return

        sent_any, last_text = False, ""
        try:
            first, rest = await self._local_first(messages, options, persona, request_id, llm or self.llm_for(persona))
        except InvalidRequestError:
            raise
        except Exception as exc:
            log.warning("persona.local_failed", persona=name, error=type(exc).__name__)
            async for d in self._fallback(messages, options, persona):
                yield d
            return
        REPLIES.inc(1, persona=name, source="local")
        finished = False
        try:
            d = first
            while d is not None:
                if d["text"] or d["finish_reason"]:
                    sent_any, last_text = sent_any or bool(d["text"]), d["text"] or last_text
                    yield ReplyDelta(d["text"], d["finish_reason"], d["prompt_tokens"], d["completion_tokens"])
                if d["finish_reason"]:
                    finished = True
                    return
                d = await anext(rest, None)
            finished = True
        except Exception as exc:
            finished = True
            log.warning("persona.local_broke_mid_stream", persona=name, error=type(exc).__name__)
            if persona is None:
                raise LLMUnavailable("the model server failed mid-reply") from exc
            gap = " " if sent_any and not last_text[-1:].isspace() else ""
            async for d in self._words(gap + persona.lines.apology, "apology"):
                yield d
        finally:
            if not finished and hasattr(rest, "cancel"):
                rest.cancel()  # the listener left (barge-in, a closed connection): stop generating

    async def _local_first(self, messages, options, persona, request_id, llm) -> tuple[dict | None, Any]:
        adapter = persona.adapter if persona else None
        spec = adapter.model_dump() if adapter else None
        model_id = f"{adapter.name}@v{adapter.version}" if adapter else ""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.config.local_attempts),
            wait=wait_exponential(multiplier=self.config.local_backoff_s, max=2.0),
            retry=retry_if_exception(_transient),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    gen = llm.options(stream=True, multiplexed_model_id=model_id).chat.remote(
                        messages, options, request_id, spec
                    )
                    try:
                        first = await asyncio.wait_for(gen.__anext__(), self.config.first_token_timeout_s)
                    except StopAsyncIteration:
                        first = None
                    except (TimeoutError, asyncio.CancelledError):
                        # Too slow, or nobody is listening any more (a barge-in, a speculative
                        # reply voided by more speech): cancelling the await alone leaves the
                        # engine generating the whole reply for nobody.
                        if hasattr(gen, "cancel"):
                            gen.cancel()
                        raise
                    return first, gen
        except AdapterUnavailableError as exc:
            if persona is not None and self.registry is not None:
                await self.registry.mark_unavailable(persona.name, exc.message)
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _fallback(self, messages, options, persona: Persona | None) -> AsyncIterator[ReplyDelta]:
        name = persona.name if persona else "-"
        if self.cloud is not None:
            sent_any = False
            try:
                async for c in self.cloud.stream(messages, options):
                    if not sent_any:
                        REPLIES.inc(1, persona=name, source="cloud")
                    sent_any = True
                    yield ReplyDelta(c.text, c.finish_reason, c.prompt_tokens, c.completion_tokens, "cloud")
                return
            except Exception as exc:
                log.warning("persona.cloud_failed", persona=name, error=type(exc).__name__)
                if sent_any:
                    if persona is None:
                        raise LLMUnavailable("the cloud LLM failed mid-reply") from exc
                    async for d in self._words(" " + persona.lines.apology, "apology"):
                        yield d
                    return
        if persona is None or options.get("json_schema") is not None or options.get("json_object"):
            raise LLMUnavailable("no language model is reachable; retry shortly")  # an apology is not the JSON asked for
        REPLIES.inc(1, persona=name, source="apology")
        async for d in self._words(persona.lines.apology, "apology"):
            yield d

    @staticmethod
    async def _words(text: str, source: str) -> AsyncIterator[ReplyDelta]:
        """A fixed text as a reply stream: a delta per word, then the finish."""
        for w in WORD.findall(text) or [text]:
            yield ReplyDelta(w, source=source)
        yield ReplyDelta("", "stop", 0, 0, source)

    def _count_hit(self, persona: str, key: str) -> None:
        if self.registry is None:
            return

        async def record() -> None:
            try:
                await self.registry.record_faq_hit(persona, key)
            except Exception as exc:  # a count is not worth failing a reply for
                log.warning("persona.faq_count_failed", persona=persona, error=type(exc).__name__)

        task = asyncio.get_running_loop().create_task(record())
        self._background.add(task)
        task.add_done_callback(self._background.discard)


@dataclass
class BoundResponder:
    """One persona's replies as text deltas: the pipeline's ``Responder``."""

    service: PersonaResponder
    persona: Persona | None
    options: dict[str, Any]

    async def reply(self, messages: list[dict[str, str]]) -> AsyncIterator[str]:
        async for d in self.service.stream(messages, self.options, self.persona):
            if d.text:
                yield d.text


def build_responder(
    llm: Any,
    responder: dict | None = None,
    cloud: dict | None = None,
    default_options: dict[str, Any] | None = None,
    registry: Any = None,
    language_llms: dict[str, Any] | None = None,
) -> PersonaResponder:
    """The responder a transport uses, from the profile's ``responder`` and ``cloud`` blocks.

    The cloud provider's URL, key and model come from settings; no URL means no cloud fallback.
    """
    from infra.settings import get_settings
    from personas.cloud import CloudConfig
    from personas.embeddings import E5Embedder
    from personas.registry import PersonaRegistry

    settings = get_settings()
    config = ResponderConfig.from_dict(responder)
    cloud_config = CloudConfig.from_settings(settings, cloud)
    return PersonaResponder(
        llm,
        FaqMatcher(E5Embedder(), config.faq),
        CloudLLM(cloud_config) if cloud_config.base_url else None,
        registry if registry is not None else PersonaRegistry(models_dir=settings.models_dir),
        config,
        default_options,
        language_llms,
    )
