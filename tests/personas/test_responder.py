"""The persona reply chain: FAQ → local LLM (retried) → cloud behind a breaker → apology.

The local LLM here is a scripted stand-in for the LLM deployment's handle (the real engine's
adapter path is tested in tests/deployments/llm, a real replica kill in the cluster tests); the
cloud is a local server speaking OpenAI's wire format to the real ``openai`` client.
"""

from __future__ import annotations

import asyncio

import pytest
from ray.exceptions import RayActorError

from deployments.errors import AdapterUnavailableError, InvalidRequestError
from personas.cloud import CloudConfig, CloudLLM
from personas.embeddings import E5Embedder
from personas.faq import FaqMatcher
from personas.responder import LLMUnavailable, PersonaResponder, ResponderConfig
from personas.schemas import Persona
from tests.fake_cloud_llm import API_KEY, REPLY, FakeCloudLLM

LINES = dict(
    greeting="Hello",
    farewell="Bye",
    silence_prompt="Hello?",
    hangup_line="Bye now",
    apology="Sorry, I am having trouble right now.",
)
ANNA = Persona(
    name="anna",
    display_name="Anna",
    language="en",
    system_prompt="You are Anna.",
    voice="joe",
    lines=LINES,
    adapter={"name": "anna", "version": 2, "path": "adapters/anna"},
    faq=[{"question": "What are your opening hours?", "answer": "We are open from 9 to 6.", "triggers": ["hours"]}],
)
MSGS = [{"role": "system", "content": "You are Anna."}, {"role": "user", "content": "Tell me a joke"}]
OPTS = {"max_tokens": 20, "temperature": 0.0}


class ScriptedLLM:
    """The LLM deployment's streaming handle: each call follows the next step of the script."""

    def __init__(self, *script: str) -> None:
        self.script, self.calls, self.cancelled = list(script), [], 0

    def options(self, **kw):
        self.last_options = kw
        return self

    @property
    def chat(self):
        return self

    def remote(self, messages, options, request_id=None, adapter=None):
        step = self.script.pop(0) if self.script else "ok"
        self.calls.append({"adapter": adapter, "model_id": self.last_options.get("multiplexed_model_id")})
        return self._stream(step)

    async def _stream(self, step):
        if step == "dead":
            raise RayActorError()
        if step == "bad":
            raise InvalidRequestError("too long", param="messages", code="context_length_exceeded")
        if step == "adapter":
            raise AdapterUnavailableError("the adapter anna@v2 cannot be loaded: no such file")
        for i, w in enumerate(["Local ", "model ", "reply."]):
            if step == "break" and i == 2:
                raise RayActorError()
            yield {"text": w, "finish_reason": None, "prompt_tokens": 0, "completion_tokens": 0}
        yield {"text": "", "finish_reason": "stop", "prompt_tokens": 9, "completion_tokens": 3}


class Registry:
    def __init__(self):
        self.unavailable, self.hits = {}, []

    async def mark_unavailable(self, name, reason):
        self.unavailable[name] = reason

    async def record_faq_hit(self, name, key):
        self.hits.append((name, key))


@pytest.fixture(scope="module")
def cloud_server():
    server = FakeCloudLLM().start()
    yield server
    server.stop()


@pytest.fixture
def cloud(cloud_server):
    cloud_server.fail, cloud_server.requests[:] = False, []
    return CloudLLM(
        CloudConfig(
            base_url=cloud_server.base_url,
            api_key=API_KEY,
            model="cloud-model",
            timeout_s=5,
            breaker_threshold=2,
            recovery_s=0.5,
        )
    )


def responder(llm, cloud=None, registry=None, faq=None):
    return PersonaResponder(llm, faq, cloud, registry, ResponderConfig(local_attempts=3, local_backoff_s=0.01))


async def reply(r, persona=ANNA, messages=MSGS):
    return [d async for d in r.stream(messages, OPTS, persona)]


def text(deltas):
    return "".join(d.text for d in deltas)


async def test_the_local_model_answers_with_the_personas_adapter_as_the_multiplexed_id():
    llm = ScriptedLLM("ok")
    deltas = await reply(responder(llm))
    assert text(deltas) == "Local model reply." and {d.source for d in deltas} == {"local"}
    assert deltas[-1].finish_reason == "stop" and deltas[-1].completion_tokens == 3
    assert llm.calls == [
        {"adapter": {"name": "anna", "version": 2, "path": "adapters/anna", "sha256": None}, "model_id": "anna@v2"}
    ]


async def test_a_dead_replica_is_retried_before_anything_else():
    llm = ScriptedLLM("dead", "dead", "ok")
    assert text(await reply(responder(llm))) == "Local model reply."
    assert len(llm.calls) == 3


async def test_when_local_retries_run_out_the_cloud_answers(cloud, cloud_server):
    llm = ScriptedLLM("dead", "dead", "dead")
    deltas = await reply(responder(llm, cloud))
    assert text(deltas) == REPLY and deltas[-1].source == "cloud" and deltas[-1].completion_tokens > 0
    sent = cloud_server.requests[-1]
    assert sent["model"] == "cloud-model" and sent["messages"] == MSGS and sent["max_tokens"] == 20


async def test_both_down_the_caller_hears_the_apology_and_the_breaker_opens(cloud, cloud_server):
    cloud_server.fail = True
    r = responder(ScriptedLLM(*["dead"] * 30), cloud)
    for _ in range(2):  # two failures in a row open the breaker
        deltas = await reply(r)
        assert text(deltas) == LINES["apology"] and deltas[-1].source == "apology"
    assert await cloud.state() == "opened" and len(cloud_server.requests) == 2
    await reply(r)  # refused by the open breaker: no request reaches the provider
    assert len(cloud_server.requests) == 2
    await asyncio.sleep(0.6)  # recovery: half-open lets one request through; success closes it
    cloud_server.fail = False
    assert text(await reply(r)) == REPLY
    assert await cloud.state() == "closed" and len(cloud_server.requests) == 3


async def test_a_failing_half_open_probe_opens_the_breaker_again(cloud, cloud_server):
    cloud_server.fail = True
    r = responder(ScriptedLLM(*["dead"] * 30), cloud)
    for _ in range(2):
        await reply(r)
    await asyncio.sleep(0.6)
    await reply(r)  # the probe fails
    assert await cloud.state() == "opened" and len(cloud_server.requests) == 3


async def test_the_base_model_with_nothing_reachable_is_an_error_not_an_apology(cloud, cloud_server):
    cloud_server.fail = True
    with pytest.raises(LLMUnavailable):
        await reply(responder(ScriptedLLM(*["dead"] * 3), cloud), persona=None)
    with pytest.raises(LLMUnavailable):
        await reply(responder(ScriptedLLM(*["dead"] * 3)), persona=None)


async def test_a_stream_broken_mid_reply_ends_with_the_apology():
    deltas = await reply(responder(ScriptedLLM("break")))
    assert text(deltas) == "Local model " + LINES["apology"]  # one space between, not two
    assert deltas[-1].finish_reason == "stop"


async def test_a_cloud_stream_cut_mid_reply_ends_with_the_apology(cloud, cloud_server):
    cloud_server.fail, cloud_server.fail_mode = True, "drop"
    try:
        deltas = await reply(responder(ScriptedLLM(*["dead"] * 3), cloud))
    finally:
        cloud_server.fail_mode = "500"
    assert text(deltas).startswith("This is") and text(deltas).endswith(LINES["apology"])


async def test_bad_requests_are_not_retried_and_not_sent_to_the_cloud(cloud, cloud_server):
    llm = ScriptedLLM("bad")
    with pytest.raises(InvalidRequestError):
        await reply(responder(llm, cloud))
    assert len(llm.calls) == 1 and cloud_server.requests == []


async def test_an_unloadable_adapter_marks_the_persona_unavailable():
    registry = Registry()
    with pytest.raises(AdapterUnavailableError):
        await reply(responder(ScriptedLLM("adapter"), registry=registry))
    assert "anna@v2" in registry.unavailable["anna"]


async def test_a_faq_hit_streams_like_a_reply_is_counted_and_skips_the_model():
    llm, registry = ScriptedLLM(), Registry()
    r = responder(llm, registry=registry, faq=FaqMatcher(E5Embedder()))
    deltas = await reply(r, messages=[*MSGS[:1], {"role": "user", "content": "Hours?"}])
    assert text(deltas) == "We are open from 9 to 6." and len(deltas) > 3
    assert deltas[-1].finish_reason == "stop" and {d.source for d in deltas} == {"faq"}
    await asyncio.sleep(0.05)
    assert llm.calls == [] and len(registry.hits) == 1


async def test_the_pipeline_protocol_yields_text_with_the_personas_sampling():
    llm = ScriptedLLM("ok")
    bound = responder(llm).for_persona(ANNA)
    assert bound.options["max_tokens"] == ANNA.sampling.max_tokens
    assert "".join([t async for t in bound.reply(MSGS)]) == "Local model reply."


async def test_a_slow_first_token_goes_to_the_cloud_without_retrying(cloud, cloud_server):
    class SlowLLM(ScriptedLLM):
        async def _stream(self, step):
            await asyncio.sleep(5)
            yield {}

    llm = SlowLLM()
    r = PersonaResponder(llm, None, cloud, None, ResponderConfig(local_attempts=3, first_token_timeout_s=0.1))
    deltas = await reply(r)
    assert text(deltas) == REPLY and len(llm.calls) == 1


async def test_a_reply_abandoned_before_its_first_token_stops_the_engine():
    """A barge-in, or a speculative reply voided by more speech, while the model is still on its
    prompt: the Serve request is cancelled, not left generating the whole reply for nobody."""

    class Stream:
        def __init__(self) -> None:
            self.cancelled = False

        def __aiter__(self):
            return self

        async def __anext__(self):
            await asyncio.sleep(5)  # still on the prompt
            raise StopAsyncIteration

        def cancel(self) -> None:
            self.cancelled = True

    class PromptBoundLLM(ScriptedLLM):
        def remote(self, messages, options, request_id=None, adapter=None):
            self.calls.append(adapter)
            self.stream = Stream()
            return self.stream

    llm = PromptBoundLLM()
    task = asyncio.create_task(reply(responder(llm)))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(llm.calls) == 1 and llm.stream.cancelled


async def test_a_persona_of_a_language_with_its_own_model_is_answered_by_it():
    default, russian = ScriptedLLM("ok"), ScriptedLLM("ok")
    r = PersonaResponder(default, None, None, None, ResponderConfig(local_attempts=1), language_llms={"ru": russian})
    marina = ANNA.model_copy(update={"name": "marina", "language": "ru", "adapter": None})
    assert text(await reply(r, marina)) == "Local model reply."
    assert len(russian.calls) == 1 and default.calls == []
    await reply(r, ANNA.model_copy(update={"language": "en-GB"}))  # no English model of its own: the default
    await reply(r, marina.model_copy(update={"language": "ru-RU"}))  # a region falls back to its language
    assert len(default.calls) == 1 and len(russian.calls) == 2
    deltas = [d async for d in r.stream(MSGS, OPTS, None, llm=russian)]  # a base model chosen by name
    assert text(deltas) == "Local model reply." and len(russian.calls) == 3
