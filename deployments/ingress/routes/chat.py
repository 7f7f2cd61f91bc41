"""POST /v1/chat/completions, streaming (SSE) and not, with real token usage."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from deployments.ingress.dependencies import AppSettings, Models
from deployments.ingress.errors import APIError
from deployments.ingress.model_calls import call_model, first_and_rest
from deployments.ingress.schemas import ChatCompletionRequest

router = APIRouter(tags=["chat"])


def _usage(d: dict) -> dict:
    return {"prompt_tokens": d["prompt_tokens"], "completion_tokens": d["completion_tokens"],
            "total_tokens": d["prompt_tokens"] + d["completion_tokens"]}


def _chunk(cid: str, created: int, model: str, delta: dict, finish: str | None) -> dict:
    return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}


def _sse(obj: dict | str) -> str:
    return f"data: {obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False)}\n\n"


@router.post("/v1/chat/completions")
async def chat_completions(body: ChatCompletionRequest, models: Models, settings: AppSettings,
                           request: Request):
    info = await call_model(models.llm_info())
    if body.model != info["id"] and body.model not in models.config.llm_aliases:
        raise APIError(404, f"the model {body.model!r} does not exist", "model", "model_not_found")
    if len(body.messages) > settings.max_chat_messages:
        raise APIError(400, f"at most {settings.max_chat_messages} messages per request", "messages")
    messages = [{"role": "system" if m.role == "developer" else m.role, "content": m.text()}
                for m in body.messages]
    request_id = request.state.request_id
    gen = models.llm.options(stream=True).chat.remote(messages, body.sampling_options(), request_id)
    first, rest = await first_and_rest(gen)
    cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    if not body.stream:
        text, last = [], first
        if first is not None:
            text.append(first["text"])
            async for d in rest:
                text.append(d["text"])
                last = d
        return {
            "id": cid, "object": "chat.completion", "created": created, "model": body.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(text)},
                         "finish_reason": last["finish_reason"], "logprobs": None}],
            "usage": _usage(last),
        }

    include_usage = bool(body.stream_options and body.stream_options.include_usage)

    async def events() -> AsyncIterator[str]:
        yield _sse(_chunk(cid, created, body.model, {"role": "assistant", "content": ""}, None))
        d = first
        while d is not None:
            if d["text"]:
                yield _sse(_chunk(cid, created, body.model, {"content": d["text"]}, None))
            if d["finish_reason"]:
                yield _sse(_chunk(cid, created, body.model, {}, d["finish_reason"]))
                if include_usage:
                    yield _sse({"id": cid, "object": "chat.completion.chunk", "created": created,
                                "model": body.model, "choices": [], "usage": _usage(d)})
                break
            d = await anext(rest, None)
        yield _sse("[DONE]")

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
