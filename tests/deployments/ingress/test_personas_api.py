"""Personas through the OpenAI-compatible API, with the official ``openai`` client.

The ingress runs in-process on a real socket over the tiny vLLM model and its LoRA adapters; the
registry is a real (SQLite) database. Personas are added, changed and broken while it serves:
nothing restarts.
"""

from __future__ import annotations

import shutil

import openai
import pytest

from deployments.ingress.app import app
from deployments.ingress.dependencies import bind_models
from personas.schemas import Persona
from tests.asgi_server import serving

PROMPT = [{"role": "user", "content": "Hello, how are you?"}]
LINES = dict(
    greeting="Hello",
    farewell="Bye",
    silence_prompt="Hello?",
    hangup_line="Bye now",
    apology="Sorry, I am having trouble right now.",
)


def persona(name: str, adapter: dict | None = None, **kw) -> Persona:
    return Persona(
        name=name,
        display_name=name.title(),
        language="en",
        system_prompt="You are a secretary.",
        voice="joe",
        lines=LINES,
        adapter=adapter,
        **kw,
    )


def adapter(tiny_llm_dir, i: int, version: int = 1, name: str | None = None) -> dict:
    return {"name": name or f"lora-{i}", "version": version, "path": str(tiny_llm_dir / f"lora-{i}")}


@pytest.fixture
async def client(local_handles, assistant, inprocess_api_key):
    bind_models(local_handles, assistant)
    async with serving(app) as url:
        async with openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=inprocess_api_key, max_retries=0, timeout=60) as c:
            yield c


@pytest.fixture
async def registry(persona_registry):
    yield persona_registry
    for p in await persona_registry.list():
        await persona_registry.delete(p.name)


async def ask(client, model: str, messages=PROMPT, **kw) -> str:
    r = await client.chat.completions.create(model=model, messages=messages, **{"temperature": 0.0, "max_tokens": 12, **kw})
    return r.choices[0].message.content


async def test_two_personas_with_different_adapters_answer_the_same_prompt_differently(client, registry, tiny_llm_dir):
    await registry.create(persona("alpha", adapter(tiny_llm_dir, 0)))
    await registry.create(persona("beta", adapter(tiny_llm_dir, 1)))
    await registry.create(persona("plain"))  # the same prompt, no adapter
    answers = {m: await ask(client, m) for m in ("alpha", "beta", "plain")}
    assert len(set(answers.values())) == 3, answers
    assert answers["alpha"] == await ask(client, "alpha")  # greedy: the difference is the adapter's

    # A third persona, added while the ingress serves, answers at once and is listed.
    await registry.create(persona("gamma", adapter(tiny_llm_dir, 2)))
    assert await ask(client, "gamma") not in answers.values()
    cards = {m.id: m for m in (await client.models.list()).data}
    assert {"alpha", "beta", "gamma", "plain", "tiny-llama"} <= cards.keys()
    assert cards["gamma"].model_extra["kind"] == "persona" and cards["gamma"].model_extra["adapter"] == "lora-2@v1"
    assert (await client.models.retrieve("beta")).model_extra["parent"] == "tiny-llama"


async def test_publishing_a_new_adapter_version_changes_the_next_answer(client, registry, tiny_llm_dir):
    await registry.create(persona("delta", adapter(tiny_llm_dir, 0, 1, "delta")))
    await registry.create(persona("epsilon", adapter(tiny_llm_dir, 1, 1, "epsilon")))
    before = await ask(client, "delta")
    p = await registry.get("delta")
    await registry.update("delta", p.model_copy(update={"adapter": adapter(tiny_llm_dir, 1, 2, "delta")}))
    after = await ask(client, "delta")
    assert after != before and after == await ask(client, "epsilon")


async def test_persona_streams_have_the_openai_shape(client, registry, tiny_llm_dir):
    await registry.create(persona("zeta", adapter(tiny_llm_dir, 0)))
    stream = await client.chat.completions.create(
        model="zeta", messages=PROMPT, temperature=0.0, max_tokens=8, stream=True, stream_options={"include_usage": True}
    )
    chunks = [c async for c in stream]
    assert chunks[-1].usage.completion_tokens == 8 and chunks[-1].model == "zeta"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == await ask(client, "zeta", max_tokens=8)


async def test_a_faq_answer_comes_in_the_same_shape_streamed_or_not(client, registry):
    faq = [
        {
            "question": "What are your opening hours?",
            "answer": "We are open from 9 to 6 on {day_of_week}.",
            "triggers": ["hours"],
        }
    ]
    await registry.create(persona("eta", faq=faq))
    raw = await client.chat.completions.with_raw_response.create(
        model="eta", messages=[{"role": "user", "content": "What are your opening hours?"}]
    )
    assert raw.headers["x-reply-source"] == "faq"
    answer = raw.parse().choices[0].message.content
    assert answer.startswith("We are open from 9 to 6 on ") and "{" not in answer
    stream = await client.chat.completions.create(model="eta", messages=[{"role": "user", "content": "Hours!"}], stream=True)
    chunks = [c async for c in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == answer
    assert chunks[-1].choices[0].finish_reason == "stop" and len(chunks) > 4
    # A message that is not the question goes to the model.
    raw = await client.chat.completions.with_raw_response.create(model="eta", messages=PROMPT, max_tokens=4)
    assert raw.headers["x-reply-source"] == "local"
    hits = await registry.faq_hits("eta")
    assert [count for count, _ in hits.values()] == [2]


async def test_an_unknown_persona_is_a_404_in_openai_shape(client, registry):
    with pytest.raises(openai.NotFoundError) as e:
        await ask(client, "nobody")
    assert e.value.code == "model_not_found" and "nobody" in e.value.message


async def test_a_missing_adapter_marks_the_persona_unavailable_and_others_keep_working(
    client, registry, tiny_llm_dir, tmp_path
):
    await registry.create(persona("theta", adapter(tiny_llm_dir, 0)))
    created = await registry.create(persona("iota", {"name": "iota", "version": 1, "path": str(tmp_path / "x")}))
    assert created.status == "unavailable" and "does not exist" in created.status_reason
    with pytest.raises(openai.InternalServerError) as e:
        await ask(client, "iota")
    assert e.value.status_code == 503 and e.value.code == "persona_unavailable"
    assert "does not exist" in e.value.message
    assert await ask(client, "theta")


async def test_a_corrupt_adapter_is_found_on_load_and_marks_the_persona_unavailable(
    client, registry, tiny_llm_dir, tmp_path
):
    bad = tmp_path / "corrupt"
    shutil.copytree(tiny_llm_dir / "lora-0", bad)
    (bad / "adapter_model.safetensors").write_bytes(b"not a safetensors file")
    assert (
        await registry.create(persona("kappa", {"name": "kappa", "version": 1, "path": str(bad)}))
    ).status == "available"  # the files are there; only loading shows they are broken
    await registry.create(persona("lambda", adapter(tiny_llm_dir, 1)))
    with pytest.raises(openai.InternalServerError) as e:
        await ask(client, "kappa")
    assert e.value.status_code == 503 and e.value.code == "adapter_unavailable"
    marked = await registry.get("kappa")
    assert marked.status == "unavailable" and "kappa@v1" in marked.status_reason
    with pytest.raises(openai.InternalServerError) as e:
        await ask(client, "kappa")
    assert e.value.code == "persona_unavailable"
    assert await ask(client, "lambda")
    card = await client.models.retrieve("kappa")
    assert card.model_extra["status"] == "unavailable"
