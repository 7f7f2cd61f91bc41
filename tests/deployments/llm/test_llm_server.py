"""The LLM deployment class over a real vLLM engine (tiny random model), in-process."""

from __future__ import annotations

import asyncio

import pytest

from deployments.errors import InvalidRequestError

MSG = [{"role": "user", "content": "Hello, how are you?"}]
GREEDY = {
    "max_tokens": 8,
    "temperature": 0.0,
    "top_p": 1.0,
    "stop": [],
    "seed": None,
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
    "ignore_eos": False,
}


async def collect(server, messages=MSG, **opts):
    return [d async for d in server.chat(messages, {**GREEDY, **opts}, "req-1")]


async def test_stream_ends_with_usage(llm_server):
    deltas = await collect(llm_server)
    last = deltas[-1]
    assert last["finish_reason"] in ("length", "stop")
    assert last["prompt_tokens"] > 5
    assert 1 <= last["completion_tokens"] <= 8
    assert all(d["finish_reason"] is None for d in deltas[:-1])


async def test_greedy_is_deterministic_and_concurrent_requests_match(llm_server):
    a = "".join(d["text"] for d in await collect(llm_server))
    many = await asyncio.gather(*(collect(llm_server) for _ in range(4)))
    assert all("".join(d["text"] for d in m) == a for m in many)


async def test_max_tokens_beyond_context_is_refused(llm_server):
    with pytest.raises(InvalidRequestError) as e:
        await collect(llm_server, max_tokens=10_000)
    assert e.value.param == "max_tokens" and "512" in e.value.message


async def test_prompt_beyond_context_is_refused(llm_server):
    with pytest.raises(InvalidRequestError) as e:
        await collect(llm_server, messages=[{"role": "user", "content": "Hello office " * 400}])
    assert e.value.code == "context_length_exceeded"


async def test_default_max_tokens_comes_from_config(llm_server):
    deltas = await collect(llm_server, max_tokens=None)
    assert deltas[-1]["completion_tokens"] <= 16


async def test_closing_the_stream_early_aborts_the_request(llm_server):
    gen = llm_server.chat(MSG, {**GREEDY, "max_tokens": 200, "ignore_eos": True}, "req-abort")
    first = await gen.__anext__()
    assert first["finish_reason"] is None
    await gen.aclose()
    for _ in range(50):
        if not llm_server.engine.engine.output_processor.has_unfinished_requests():
            break
        await asyncio.sleep(0.05)
    assert not llm_server.engine.engine.output_processor.has_unfinished_requests()


async def test_health_and_info(llm_server):
    await llm_server.check_health()
    assert await llm_server.ready() is True
    info = await llm_server.model_info()
    assert info == {"id": "tiny-llama", "max_model_len": 512, "lora": True, "max_adapters": 2, "cpu_plan": info["cpu_plan"]}
    # The tiny model is float32, not int8: served as it is, whatever the CPU (deployments/llm/cpu_plan.py).
    assert info["cpu_plan"]["kernel"] == "native" and info["cpu_plan"]["fallback"] is False


MESSAGE_SCHEMA = {
    "type": "object",
    "properties": {
        "caller_name": {"type": "string", "maxLength": 40},
        "wants": {"enum": ["callback", "meeting", "information", "other"]},
    },
    "required": ["caller_name", "wants"],
    "additionalProperties": False,
}


async def test_guided_decoding_returns_json_valid_against_the_schema(llm_server):
    """A random tiny model left to itself writes noise; held to a schema it writes that structure."""
    import json

    import jsonschema

    free = "".join(d["text"] for d in await collect(llm_server, max_tokens=40))
    with pytest.raises(ValueError):
        json.loads(free)
    for seed in range(3):
        deltas = await collect(llm_server, max_tokens=120, json_schema=MESSAGE_SCHEMA, temperature=1.0, seed=seed)
        # strict=False: xgrammar lets a raw control character into a string, as JSON does not.
        reply = json.loads("".join(d["text"] for d in deltas), strict=False)
        jsonschema.validate(reply, MESSAGE_SCHEMA)
    deltas = await collect(llm_server, max_tokens=60, json_object=True)
    assert isinstance(json.loads("".join(d["text"] for d in deltas), strict=False), dict)
