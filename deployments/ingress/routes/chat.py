"""POST /v1/chat/completions, streaming (SSE) and not, with real token usage.

The reply's origin (``faq``, ``local``, ``cloud`` or ``apology``) is in the ``X-Reply-Source``
header; the body has the same shape whoever answered.

Tokens are the tenant's ``llm_tokens``: a request is refused (402) once the month's are used up,
and what it used is counted when the reply ends. A stream the client drops is counted as far as
it went: the text deltas sent (about one token each) and the prompt estimated from its length.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from deployments.ingress import usage
from deployments.ingress.dependencies import AppSettings, Models, Personas
from deployments.ingress.errors import APIError
from deployments.ingress.model_calls import first_and_rest
from deployments.ingress.personas import resolve_persona
from deployments.ingress.schemas import ChatCompletionRequest
from personas.responder import persona_options

router = APIRouter(tags=["chat"])


def _usage(d: dict) -> dict:
    return {
        "prompt_tokens": d["prompt_tokens"],
        "completion_tokens": d["completion_tokens"],
        "total_tokens": d["prompt_tokens"] + d["completion_tokens"],
    }


def _chunk(cid: str, created: int, model: str, delta: dict, finish: str | None) -> dict:
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }


def _sse(obj: dict | str) -> str:
    return f"data: {obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False)}\n\n"


def _options(body: ChatCompletionRequest, persona) -> dict:
    """The request's sampling; a persona's defaults fill what the client did not set."""
    options = body.sampling_options()
    if persona is None:
        return options
    defaults = persona_options(persona, options)
    unset = {"temperature", "top_p"} - body.model_fields_set
    if not ({"max_tokens", "max_completion_tokens"} & body.model_fields_set):
        unset.add("max_tokens")
    return {**options, **{k: defaults[k] for k in unset}}


@router.post("/v1/chat/completions")
async def chat_completions(
    body: ChatCompletionRequest,
    models: Models,
    assistant: Personas,
    settings: AppSettings,
    request: Request,
    gate: usage.Gate,
):
    """``model`` is the base model (plain completion) or a persona (its prompt, adapter, FAQ)."""
    tenant = usage.tenant_of(request)
    persona = await resolve_persona(body.model, models, assistant, tenant)
    if len(body.messages) > settings.max_chat_messages:
        raise APIError(400, f"at most {settings.max_chat_messages} messages per request", "messages")
    await usage.check(gate, request, "llm_tokens")
    messages = [{"role": "system" if m.role == "developer" else m.role, "content": m.text()} for m in body.messages]
    if persona is not None:
        messages = [{"role": "system", "content": persona.system_prompt}, *messages]
    request_id = request.state.request_id
    first, rest = await first_and_rest(
        assistant.responder.stream(
            messages,
            _options(body, persona),
            persona,
            request_id,
            models.llm_for_model(body.model) if persona is None else None,
        )
    )
    first = asdict(first) if first is not None else None
    rest = _as_dicts(rest)
    source = first["source"] if first else "local"
    cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    prompt_estimate = sum(len(m["content"]) for m in messages) // 4

    async def count(last: dict | None, deltas: int) -> None:
        finished = last is not None and last["finish_reason"]
        tokens = (last["prompt_tokens"] + last["completion_tokens"]) if finished else prompt_estimate + deltas
        await usage.record(gate, tenant, "llm_tokens", tokens, f"llm_tokens:{request.state.usage_id}")

    if not body.stream:
        text, last = [], first
        if first is not None:
            text.append(first["text"])
            async for d in rest:
                text.append(d["text"])
                last = d
        await count(last, len(text))
        return JSONResponse(
            {
                "id": cid,
                "object": "chat.completion",
                "created": created,
                "model": body.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "".join(text)},
                        "finish_reason": last["finish_reason"],
                        "logprobs": None,
                    }
                ],
                "usage": _usage(last),
            },
            headers={"X-Reply-Source": source},
        )

    include_usage = bool(body.stream_options and body.stream_options.include_usage)

    async def events() -> AsyncIterator[str]:
        d, sent = first, 0
        try:
            yield _sse(_chunk(cid, created, body.model, {"role": "assistant", "content": ""}, None))
            while d is not None:
                if d["text"]:
                    yield _sse(_chunk(cid, created, body.model, {"content": d["text"]}, None))
                    sent += 1
                if d["finish_reason"]:
                    yield _sse(_chunk(cid, created, body.model, {}, d["finish_reason"]))
                    if include_usage:
                        yield _sse(
                            {
                                "id": cid,
                                "object": "chat.completion.chunk",
                                "created": created,
                                "model": body.model,
                                "choices": [],
                                "usage": _usage(d),
                            }
                        )
                    break
                d = await anext(rest, None)
            yield _sse("[DONE]")
        finally:
            await count(d, sent)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "X-Reply-Source": source},
    )


async def _as_dicts(gen: AsyncIterator) -> AsyncIterator[dict]:
    async for d in gen:
        yield asdict(d)
