"""Plan limits on ``/v1`` in-process over real engines, with metering on a real redis-server.

Each test makes its own tenant (a basic plan unless it says otherwise) and key, and fills the
tenant's counters directly where it needs a limit reached.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import numpy as np
import pytest
import websockets

from accounts.service import AccountService
from billing.gate import UsageGate
from billing.metering import UsageMeter
from billing.plans import load_plans
from billing.subscriptions import SubscriptionState, SubscriptionStore
from deployments.ingress.app import app
from deployments.ingress.dependencies import bind_models
from deployments.ingress.usage import bind_gate
from personas.schemas import Persona
from tests.asgi_server import serving

PLAN = load_plans().get("basic")
CHAT = {"model": "tiny-llama", "max_tokens": 4, "temperature": 0, "messages": [{"role": "user", "content": "Hi"}]}


@pytest.fixture
async def gate(local_handles, assistant, redis_server, persona_registry):
    bind_models(local_handles, assistant)
    g = UsageGate(
        UsageMeter(redis_server.url, persona_registry.url),
        load_plans(),
        SubscriptionStore(persona_registry.url),
        None,
        "https://secretary.test/billing/plans",
        plan_ttl_s=0,
    )
    bind_gate(g)
    yield g
    bind_gate(None)
    await g.close()


@pytest.fixture
def tenant(gate, persona_registry):
    """Makes a tenant with a key and (unless plan=None) a subscription; returns (tenant_id, headers)."""
    accounts = AccountService(persona_registry.url)

    async def make(plan: str | None = "basic", status: str = "active") -> tuple[str, dict[str, str]]:
        tenant_id, _ = await accounts.create_tenant("Clinic", f"o-{uuid.uuid4().hex[:10]}@clinic.test", "a long pw 123")
        if plan is not None:
            await gate.subscriptions.apply_event(
                "stripe",
                uuid.uuid4().hex,
                "t",
                SubscriptionState(tenant_id, plan, status, "stripe", "sub_" + tenant_id, None),
            )
        _, key = await accounts.issue_api_key(tenant_id, "tests")
        return tenant_id, {"Authorization": f"Bearer {key}"}

    return make


@pytest.fixture
async def client():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", timeout=120) as c:
        yield c


async def fill(gate: UsageGate, tenant_id: str, metric: str, amount: int) -> None:
    await gate.meter.consume(tenant_id, metric, amount, event_id=uuid.uuid4().hex)


async def test_chat_counts_its_tokens_and_is_refused_with_402_once_they_are_used_up(gate, tenant, client):
    t, headers = await tenant()
    body = (await client.post("/v1/chat/completions", json=CHAT, headers=headers)).json()
    assert await gate.meter.used(t, "llm_tokens") == body["usage"]["total_tokens"]
    r = await client.post(
        "/v1/chat/completions", json={**CHAT, "stream": True, "stream_options": {"include_usage": True}}, headers=headers
    )
    streamed = json.loads([line for line in r.text.splitlines() if line.startswith("data: {")][-1][6:])["usage"]
    assert await gate.meter.used(t, "llm_tokens") == body["usage"]["total_tokens"] + streamed["total_tokens"]

    await fill(gate, t, "llm_tokens", PLAN.llm_tokens)
    used = await gate.meter.used(t, "llm_tokens")
    r = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert r.status_code == 402
    assert r.json() == {
        "error": "usage_limit_exceeded",
        "message": r.json()["message"],
        "metric": "llm_tokens",
        "limit": PLAN.llm_tokens,
        "used": used,
        "upgrade_url": "https://secretary.test/billing/plans",
    }
    assert await gate.meter.used(t, "llm_tokens") == used  # a refused request counts nothing


async def test_speech_counts_the_audio_it_made_and_is_refused_past_the_limit(gate, tenant, client):
    t, headers = await tenant()
    r = await client.post(
        "/v1/audio/speech",
        headers=headers,
        json={"model": "tts-1", "voice": "joe", "input": "Hello there.", "response_format": "pcm"},
    )
    seconds = len(r.content) / 2 / int(r.headers["x-sample-rate"])
    assert await gate.meter.used(t, "tts_ms") == pytest.approx(seconds * 1000, abs=2)
    await fill(gate, t, "tts_ms", PLAN.limit("tts_ms"))
    r = await client.post("/v1/audio/speech", headers=headers, json={"model": "tts-1", "voice": "joe", "input": "Hi."})
    assert r.status_code == 402 and r.json()["metric"] == "tts_ms"


async def test_a_transcription_that_would_not_fit_is_refused_and_counts_nothing(gate, tenant, client):
    t, headers = await tenant()
    wav = (
        await client.post(
            "/v1/audio/speech",
            headers=headers,
            json={"model": "tts-1", "voice": "joe", "input": "Please call me back tomorrow.", "response_format": "wav"},
        )
    ).content
    form = {"files": {"file": ("a.wav", wav)}, "data": {"model": "whisper-1", "language": "en"}}
    assert (await client.post("/v1/audio/transcriptions", headers=headers, **form)).status_code == 200
    one = await gate.meter.used(t, "stt_ms")
    assert one > 1000
    await fill(gate, t, "stt_ms", PLAN.limit("stt_ms") - 2 * one + 500)  # room for the same file less 500 ms
    r = await client.post("/v1/audio/transcriptions", headers=headers, **form)
    assert r.status_code == 402 and r.json()["error"] == "usage_limit_exceeded"
    assert await gate.meter.used(t, "stt_ms") == PLAN.limit("stt_ms") - one + 500


async def test_no_subscription_is_402_subscription_required(gate, tenant, client):
    for plan, status in ((None, ""), ("basic", "suspended"), ("pro", "cancelled")):
        _, headers = await tenant(plan, status)
        r = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
        assert r.status_code == 402 and r.json()["error"] == "subscription_required", r.text
        assert r.json()["upgrade_url"].endswith("/billing/plans")


async def test_a_trial_15_days_old_and_an_incomplete_subscription_get_402_subscription_required(gate, tenant, client):
    from datetime import timedelta

    from billing.subscriptions import SubscriptionRow
    from infra.database import transaction, utcnow

    t, headers = await tenant(plan=None)
    await gate.subscriptions.start_trial(t, "basic", 14)
    assert (await client.post("/v1/chat/completions", json=CHAT, headers=headers)).status_code == 200
    async with transaction(gate.subscriptions.url) as s:  # the same trial, started 15 days ago
        row = await s.get(SubscriptionRow, t)
        row.current_period_end = utcnow() - timedelta(days=1)
    r = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert r.status_code == 402 and r.json()["error"] == "subscription_required", r.text
    assert r.json()["status"] == "expired"
    _, headers = await tenant("pro", "incomplete")  # a first payment never made serves nothing
    r = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert r.status_code == 402 and r.json()["status"] == "incomplete"


async def test_metering_that_cannot_reach_redis_fails_closed_with_503(
    local_handles, assistant, tenant, client, persona_registry
):
    _, headers = await tenant()
    dead = UsageGate(
        UsageMeter("redis://127.0.0.1:1/0", persona_registry.url),
        load_plans(),
        SubscriptionStore(persona_registry.url),
        None,
        plan_ttl_s=0,
    )
    bind_gate(dead)
    r = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert r.status_code == 503 and r.json()["error"]["code"] == "metering_unavailable"


async def test_a_tenant_sees_its_own_and_the_shared_personas_never_another_tenants(gate, tenant, client, persona_registry):
    (a, a_headers), (_, b_headers) = await tenant(), await tenant()
    spec = {
        "display_name": "Private",
        "language": "en",
        "system_prompt": "Secret clinic prompt.",
        "voice": "joe",
        "lines": {
            "greeting": "Hi.",
            "farewell": "Bye.",
            "silence_prompt": "Hello?",
            "hangup_line": "Bye.",
            "apology": "Sorry.",
        },
    }
    mine, shared = f"mine-{uuid.uuid4().hex[:6]}", f"shared-{uuid.uuid4().hex[:6]}"
    await persona_registry.scoped(a, with_shared=False).create(Persona(name=mine, **spec))
    await persona_registry.create(Persona(name=shared, **spec))

    async def visible(headers) -> set[str]:
        return {m["id"] for m in (await client.get("/v1/models", headers=headers)).json()["data"]}

    assert {mine, shared} <= await visible(a_headers)
    assert shared in await visible(b_headers) and mine not in await visible(b_headers)
    r = await client.post("/v1/chat/completions", json={**CHAT, "model": mine}, headers=b_headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"
    assert (await client.get(f"/v1/models/{mine}", headers=b_headers)).status_code == 404
    assert (await client.post("/v1/chat/completions", json={**CHAT, "model": mine}, headers=a_headers)).status_code == 200


async def test_a_websocket_call_with_no_minutes_left_hears_the_notice_and_ends(gate, tenant):
    t, headers = await tenant()
    await fill(gate, t, "call_ms", PLAN.call_ms_limit)
    reply, events = bytearray(), []
    async with serving(app) as base:
        url = base.replace("http://", "ws://") + "/v1/calls/stream?sample_rate=8000&language=en&api_key="
        async with websockets.connect(url + headers["Authorization"][7:]) as ws:
            assert json.loads(await ws.recv())["type"] == "session.started"
            loop = asyncio.get_running_loop()
            next_tick = loop.time()
            try:
                for _ in range(20 * 50):  # up to 20 s of a silent caller, 20 ms at a time
                    await ws.send(b"\x00" * 320)
                    with_timeout = next_tick + 0.02 - loop.time()
                    next_tick += 0.02
                    try:
                        message = await asyncio.wait_for(ws.recv(), max(0.001, with_timeout))
                    except TimeoutError:
                        continue
                    if isinstance(message, bytes):
                        reply.extend(message)
                    else:
                        events.append(json.loads(message))
                        if events[-1]["type"] == "call.ended":
                            break
            except websockets.ConnectionClosed:
                pass
    ended = events[-1]
    assert ended["type"] == "call.ended" and ended["reason"] == "usage_limit"
    assert [turn["text"] for turn in ended["record"]["turns"]] == [
        "I'm sorry, this line has used up its minutes for this month, so I have to end the call. Goodbye."
    ]
    assert np.abs(np.frombuffer(bytes(reply), "<i2")).max() > 1000  # the notice was spoken
    await asyncio.sleep(0.2)
    assert await gate.meter.used(t, "call_ms") > PLAN.call_ms_limit  # the short call is counted too


async def test_call_sockets_are_capped_per_tenant_and_an_idle_one_ends(gate, tenant, monkeypatch):
    """Issue 20: idle sockets had no timeout and no per-tenant cap, so one tenant could hold a
    replica's every slot. Now a third socket of one tenant is refused; an idle one ends."""
    from infra.settings import get_settings

    monkeypatch.setenv("SECRETARY_MAX_STREAMS_PER_TENANT", "2")
    monkeypatch.setenv("SECRETARY_STREAM_IDLE_TIMEOUT_S", "2")
    get_settings.cache_clear()
    _, a = await tenant()
    _, b = await tenant()
    try:
        async with serving(app) as base:
            url = base.replace("http://", "ws://") + "/v1/calls/stream?sample_rate=8000&language=en&api_key="

            def connect(headers):
                return websockets.connect(url + headers["Authorization"][7:])

            async def started(ws) -> None:
                assert json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] == "session.started"

            async with connect(a) as first, connect(a) as second:
                await started(first)
                await started(second)
                async with connect(a) as third:
                    with pytest.raises(websockets.ConnectionClosed) as refused:
                        await asyncio.wait_for(third.recv(), 30)
                    assert refused.value.rcvd.code == 1013 and "open streaming connections" in refused.value.rcvd.reason
                async with connect(b) as other:  # another tenant is not affected
                    await started(other)
                ended = None
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 30
                while ended is None and loop.time() < deadline:  # the first socket sends nothing
                    message = await asyncio.wait_for(first.recv(), 30)
                    if isinstance(message, str) and json.loads(message)["type"] == "call.ended":
                        ended = json.loads(message)
                assert ended is not None and ended["reason"] == "idle_timeout"
            async with connect(a) as again:  # closed sockets gave their places back
                await started(again)
    finally:
        monkeypatch.delenv("SECRETARY_MAX_STREAMS_PER_TENANT")
        monkeypatch.delenv("SECRETARY_STREAM_IDLE_TIMEOUT_S")
        get_settings.cache_clear()


async def test_a_repeated_x_request_id_is_counted_every_time(gate, tenant, client):
    """Issue 20: the client's X-Request-ID was the metering event id, and a repeated id counted once,
    so LLM, TTS and STT use became free. Three requests with the same id count three times."""
    t, headers = await tenant()
    same = {**headers, "X-Request-ID": "same-id-every-time"}
    totals = [
        (await client.post("/v1/chat/completions", json=CHAT, headers=same)).json()["usage"]["total_tokens"]
        for _ in range(3)
    ]
    assert await gate.meter.used(t, "llm_tokens") == sum(totals) and min(totals) > 0
    spoken = 0
    for _ in range(3):
        r = await client.post(
            "/v1/audio/speech",
            headers=same,
            json={"model": "tts-1", "voice": "joe", "input": "Hello.", "response_format": "pcm"},
        )
        spoken += len(r.content) / 2 / int(r.headers["x-sample-rate"]) * 1000
        assert r.headers["x-request-id"] == "same-id-every-time"  # still the log tag the client chose
    assert await gate.meter.used(t, "tts_ms") == pytest.approx(spoken, abs=6)


@pytest.mark.parametrize("presented", ["x" * 129, "spaces are odd", "semi;colon", ""])
async def test_an_over_long_or_odd_request_id_is_replaced_by_the_servers(client, presented):
    r = await client.get("/healthz", headers={"X-Request-ID": presented} if presented else {})
    assert r.status_code == 200
    assert r.headers["x-request-id"] != presented and len(r.headers["x-request-id"]) == 32
