"""The ingress routes in-process over real engines, and how model-server failures map to HTTP."""

from __future__ import annotations

import json

import httpx
import pytest
from ray.exceptions import RayActorError

from deployments.ingress.app import app
from deployments.ingress.dependencies import IngressConfig, ModelHandles, bind_models
from tests.local_handles import LocalHandle
from tests.speech import wer


@pytest.fixture
async def client(local_handles, assistant, auth_headers):
    bind_models(local_handles, assistant)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=120, headers=auth_headers
    ) as c:
        yield c


async def test_models_and_readiness(client):
    ids = [m["id"] for m in (await client.get("/v1/models")).json()["data"]]
    # Personas come first (other tests of the session may have made some), then the base model.
    assert "tiny-llama" in ids and "whisper-1" in ids and "tts-1" in ids
    assert (await client.get("/v1/models/tiny-llama")).json()["kind"] == "chat"
    assert (await client.get("/v1/models/nope")).status_code == 404
    r = await client.get("/readyz", headers={"X-Request-ID": "abc"})
    assert r.status_code == 200 and r.headers["x-request-id"] == "abc"


async def test_chat_sse_stream_format(client):
    body = {
        "model": "tiny-llama",
        "messages": [
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
        ],
        "max_tokens": 6,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    r = await client.post("/v1/chat/completions", json=body)
    assert r.headers["content-type"].startswith("text/event-stream")
    events = [line[6:] for line in r.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 6
    assert len({c["id"] for c in chunks}) == 1


async def test_chat_non_streamed(client):
    r = await client.post(
        "/v1/chat/completions",
        json={"model": "tiny-llama", "max_tokens": 3, "messages": [{"role": "user", "content": "Hi"}]},
    )
    body = r.json()
    assert r.status_code == 200 and body["object"] == "chat.completion"
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + 3


async def test_speech_and_transcription_round_trip(client):
    text = "Thank you for calling, goodbye."
    wav = (
        await client.post(
            "/v1/audio/speech", json={"model": "tts-1", "voice": "nova", "input": text, "response_format": "wav"}
        )
    ).content
    r = await client.post(
        "/v1/audio/transcriptions",
        files={"file": ("a.wav", wav)},
        data={"model": "whisper-1", "language": "en", "response_format": "verbose_json"},
    )
    assert wer(text, r.json()["text"]) <= 0.2
    pcm = await client.post(
        "/v1/audio/speech", json={"model": "tts-1", "voice": "joe", "input": "Hi.", "response_format": "pcm"}
    )
    assert pcm.headers["x-sample-rate"] == "24000" and len(pcm.content) > 4800


class _Failing:
    """A model server whose replica died or that refuses load."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    async def model_info(self):
        raise self.exc

    async def ready(self):
        raise self.exc

    async def voices(self):
        raise self.exc

    async def models(self):
        raise self.exc


@pytest.fixture
async def broken_client(local_handles, assistant, auth_headers):
    dead = LocalHandle(_Failing(RayActorError()))
    bind_models(ModelHandles(dead, dead, dead, IngressConfig()))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", headers=auth_headers) as c:
            yield c
    finally:
        bind_models(local_handles, assistant)


async def test_dead_model_server_is_503_not_500(broken_client):
    r = await broken_client.post(
        "/v1/chat/completions", json={"model": "x", "messages": [{"role": "user", "content": "hi"}]}
    )
    assert r.status_code == 503 and r.json()["error"]["code"] == "model_unavailable"
    r = await broken_client.get("/readyz")
    assert r.status_code == 503 and r.json()["checks"]["llm"].startswith("unavailable")
    assert (await broken_client.get("/healthz")).status_code == 200


async def test_unexpected_error_is_500_in_openai_shape(local_handles, assistant, auth_headers):
    bind_models(ModelHandles(*(LocalHandle(_Failing(KeyError("bug"))),) * 3, IngressConfig()))
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=auth_headers) as c:
            r = await c.get("/v1/models")
        assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"
    finally:
        bind_models(local_handles, assistant)


@pytest.fixture
async def anonymous(local_handles, assistant):
    bind_models(local_handles, assistant)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c


def v1_routes() -> list[tuple[str, str]]:
    from fastapi.routing import APIRoute

    return [
        (m, r.path.replace("{model_id:path}", "x"))
        for r in app.routes
        if isinstance(r, APIRoute) and r.path.startswith("/v1/")
        for m in r.methods - {"HEAD", "OPTIONS"}
    ]


@pytest.mark.parametrize(("method", "path"), v1_routes())
async def test_every_v1_route_needs_an_api_key(anonymous, method, path):
    for headers in ({}, {"Authorization": "Bearer sk_forged_key"}, {"Authorization": "Basic abc"}):
        r = await anonymous.request(method, path, headers=headers, json={})
        assert r.status_code == 401, (method, path, headers, r.text)
        assert r.json()["error"]["code"] in ("missing_api_key", "invalid_api_key")
    assert (await anonymous.get("/healthz")).status_code == 200  # probes stay open


async def test_a_revoked_key_stops_working(anonymous, persona_registry):
    from accounts.service import AccountService

    accounts = AccountService(persona_registry.url)
    tenant, _ = await accounts.create_tenant("revoker", "revoker@secretary.invalid", "a long password")
    info, key = await accounts.issue_api_key(tenant, "soon gone")
    headers = {"Authorization": f"Bearer {key}"}
    assert (await anonymous.get("/v1/models", headers=headers)).status_code == 200
    await accounts.revoke_api_key(tenant, info.id)
    r = await anonymous.get("/v1/models", headers=headers)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"


async def test_the_console_signs_v1_with_an_owners_session_not_a_viewers(anonymous, monkeypatch):
    """The console's voice preview and test chat: an owner's or admin's session is a tenant credential;
    a viewer's is refused (403), an expired or forged one is 401."""
    from infra.auth import issue_session_token
    from infra.settings import get_settings

    monkeypatch.setenv("SECRETARY_JWT_SECRET", "v1-session-test-secret-0123456789abcdef")
    get_settings.cache_clear()
    try:
        for role in ("owner", "admin"):
            token = issue_session_token("u-1", "tenant-console", role)
            r = await anonymous.get("/v1/models", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200, (role, r.text)
        viewer = issue_session_token("u-2", "tenant-console", "viewer")
        r = await anonymous.get("/v1/models", headers={"Authorization": f"Bearer {viewer}"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        expired = issue_session_token("u-1", "tenant-console", "owner", ttl_s=-5)
        r = await anonymous.get("/v1/models", headers={"Authorization": f"Bearer {expired}"})
        assert r.status_code == 401 and "expired" in r.json()["error"]["message"]
    finally:
        get_settings.cache_clear()


async def test_speech_with_nothing_speakable_or_an_odd_rate_is_not_a_server_error(client):
    """Both found by the schema fuzz (test_fuzz.py): they were 500s."""
    for text in ("\U00031a8e", "\x00\x01", "\x00Hello"[:1]):
        r = await client.post("/v1/audio/speech", json={"model": "tts-1", "voice": "joe", "input": text})
        assert r.status_code == 400 and r.json()["error"]["param"] == "input", r.text
    r = await client.post(
        "/v1/audio/speech", json={"model": "tts-1", "voice": "joe", "input": "Hello\x00 there.", "response_format": "wav"}
    )
    assert r.status_code == 200 and len(r.content) > 8000  # a NUL inside real text is dropped, the rest is spoken
    r = await client.post(
        "/v1/audio/speech",
        json={"model": "tts-1", "voice": "joe", "input": "Hello.", "sample_rate": 21677, "response_format": "mp3"},
    )
    assert r.status_code == 200 and r.headers["x-sample-rate"] == "22050"


async def test_sampling_values_vllm_refuses_are_400_not_an_outage(client):
    """Found by the schema fuzz: vLLM's own validation was retried, then reported as 'no model reachable'."""
    for extra in ({"stop": [""]}, {"seed": 2**70}):
        r = await client.post(
            "/v1/chat/completions",
            json={"model": "tiny-llama", "max_tokens": 2, "messages": [{"role": "user", "content": "Hi"}], **extra},
        )
        assert r.status_code == 400, (extra, r.text)


async def test_response_format_json_schema_holds_the_reply_to_the_schema(client):
    """OpenAI's ``response_format``: a random tiny model answers in exactly the asked structure."""
    import jsonschema

    schema = {
        "type": "object",
        "properties": {"verdict": {"enum": ["spam", "sales", "legit"]}, "reason": {"type": "string", "maxLength": 30}},
        "required": ["verdict", "reason"],
        "additionalProperties": False,
    }
    body = {
        "model": "tiny-llama",
        "max_tokens": 80,
        "messages": [{"role": "user", "content": "Classify this call."}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "verdict", "schema": schema, "strict": True}},
    }
    r = await client.post("/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    content = r.json()["choices"][0]["message"]["content"]
    assert content.startswith('{"'), content  # compact: no whitespace for a small model to spend its tokens on
    jsonschema.validate(json.loads(content, strict=False), schema)
    r = await client.post("/v1/chat/completions", json={**body, "response_format": {"type": "json_object"}})
    choice = r.json()["choices"][0]
    assert choice["message"]["content"].startswith("{")  # an unbounded object may run out of max_tokens
    if choice["finish_reason"] == "stop":
        assert isinstance(json.loads(choice["message"]["content"], strict=False), dict)
    for bad in ({"type": "json_schema"}, {"type": "xml"}, {"type": "json_schema", "json_schema": {"name": "x"}}):
        r = await client.post("/v1/chat/completions", json={**body, "response_format": bad})
        assert r.status_code == 400 and r.json()["error"]["param"].startswith("response_format"), (bad, r.text)
