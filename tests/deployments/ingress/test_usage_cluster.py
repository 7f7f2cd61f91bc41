"""Plan limits on the real cluster: a tenant signs up at /billing, uses /v1, runs out, gets 402.

The cluster meters on this test session's redis-server (``tests/conftest.py``), which is how
the test fills a tenant's month without spending it for real.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest

from billing.metering import UsageMeter
from billing.plans import load_plans
from privacy.policy import load_policy

pytestmark = pytest.mark.cluster
CHAT = {"max_tokens": 8, "temperature": 0, "messages": [{"role": "user", "content": "Say hello."}]}


@pytest.fixture(scope="module")
def signed_up(cluster):
    """A new tenant (a trial of the basic plan) with a session and an API key, made over HTTP."""
    with httpx.Client(base_url=f"{cluster}/billing", timeout=60) as c:
        r = c.post(
            "/auth/signup",
            json={
                "business_name": "Dental Plus",
                "email": f"{uuid.uuid4().hex[:8]}@dental-plus.ru",
                "password": "a long enough password",
                "accept_privacy_policy": True,
                "privacy_policy_version": str(load_policy()["version"]),
            },
        )
        assert r.status_code == 201, r.text
        body = r.json()
        session = {"Authorization": f"Bearer {body['token']}"}
        key = c.post("/api-keys", json={"name": "reception"}, headers=session).json()["key"]
    return body["tenant_id"], session, {"Authorization": f"Bearer {key}"}


def used(redis_url: str, tenant: str, metric: str) -> int:
    async def read() -> int:
        meter = UsageMeter(redis_url)
        try:
            return await meter.used(tenant, metric)
        finally:
            await meter.close()

    return asyncio.run(read())


def test_a_tenant_is_metered_and_refused_past_its_plan(cluster, chat_model, signed_up, redis_server):
    tenant, session, key = signed_up
    with httpx.Client(base_url=cluster, timeout=120) as c:
        r = c.post("/v1/chat/completions", json={**CHAT, "model": chat_model}, headers=key)
        assert r.status_code == 200, r.text
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
        assert used(redis_server.url, tenant, "llm_tokens") == r.json()["usage"]["total_tokens"]

        # The month's usage reaches the SQL ledger (flushed every few seconds) and the billing app.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            stats = c.get("/admin/usage/stats", headers=session).json()
            if stats["totals"].get("llm_tokens"):
                break
            time.sleep(1)
        assert stats["totals"]["llm_tokens"] == r.json()["usage"]["total_tokens"]
        usage = c.get("/billing/usage", headers=session).json()
        assert usage["plan"] == "basic" and usage["metrics"]["llm_tokens"]["limit"] == load_plans().get("basic").llm_tokens

        async def fill() -> None:
            meter = UsageMeter(redis_server.url)
            try:
                await meter.consume(tenant, "llm_tokens", load_plans().get("basic").llm_tokens, event_id=uuid.uuid4().hex)
            finally:
                await meter.close()

        asyncio.run(fill())
        r = c.post("/v1/chat/completions", json={**CHAT, "model": chat_model}, headers=key)
        assert r.status_code == 402
        body = r.json()
        assert body["error"] == "usage_limit_exceeded" and body["limit"] == load_plans().get("basic").llm_tokens
        assert body["used"] > body["limit"] and body["upgrade_url"]
        # Other metrics of the same plan still have room.
        speech = c.post("/v1/audio/speech", json={"model": "tts-1", "voice": "joe", "input": "Hello."}, headers=key)
        assert speech.status_code == 200
