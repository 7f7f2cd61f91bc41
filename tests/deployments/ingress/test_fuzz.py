"""The ``/v1`` ingress fuzzed from its OpenAPI schema (schemathesis) over the real in-process engines.

Chat runs on the tiny vLLM model, speech on Piper, transcription on Whisper tiny.en, metering
on a real redis-server: whatever the generated request, the answer is never a 5xx.
"""

from __future__ import annotations

import uuid

from accounts.service import AccountService
from billing.gate import UsageGate
from billing.metering import UsageMeter
from billing.plans import load_plans
from billing.subscriptions import SubscriptionStore
from deployments.ingress.app import app
from deployments.ingress.dependencies import bind_models
from deployments.ingress.usage import bind_gate
from tests.api_fuzz import fuzz
from tests.asgi_server import serving


async def test_no_generated_request_gets_a_5xx(local_handles, assistant, persona_registry, redis_server):
    bind_models(local_handles, assistant)
    url = persona_registry.url
    gate = UsageGate(UsageMeter(redis_server.url, url), load_plans(), SubscriptionStore(url), plan_ttl_s=0)
    accounts = AccountService(url)
    tenant, _ = await accounts.create_tenant("Fuzz", f"fuzz-{uuid.uuid4().hex[:6]}@x.ru", "a long password")
    await SubscriptionStore(url).grant(tenant, "enterprise")
    _, key = await accounts.issue_api_key(tenant, "fuzz")
    bind_gate(gate)
    try:
        async with serving(app) as base:
            failures, seen = await fuzz(
                app.openapi(),
                base,
                {"Authorization": f"Bearer {key}"},
                max_examples=30,
                valid={
                    "/v1/chat/completions": {"model": ["tiny-llama"]},
                    "/v1/audio/speech": {"model": ["tts-1"], "voice": ["joe", "nova"]},
                    "/v1/audio/transcriptions": {"model": ["whisper-1"]},
                    "/v1/models/{model_id}": {"model_id": ["tiny-llama", "whisper-1"]},
                },
            )
    finally:
        bind_gate(None)
        await gate.close()
    assert not failures, "\n".join(failures)
    # The generated requests got past validation into the models, not only refusals.
    for operation in ("POST /v1/chat/completions", "POST /v1/audio/speech", "GET /v1/models/{model_id}"):
        assert seen[operation][200] > 0, seen
