"""The ingress replica connects its model handles when it starts, without waiting on them."""

from __future__ import annotations

import asyncio

from deployments import handle_warmup
from deployments.ingress import app as ingress_app
from deployments.ingress.dependencies import bind_models


async def test_the_handles_are_connected_in_the_background_and_the_app_serves_meanwhile(
    local_handles, assistant, monkeypatch
):
    bind_models(local_handles, assistant)
    asked: list[dict] = []
    never = asyncio.Event()

    async def slow_connect(handles, timeout_s):
        asked.append(handles)
        await never.wait()  # a model still loading

    monkeypatch.setattr(handle_warmup, "connect", slow_connect)
    async with ingress_app.lifespan(ingress_app.app):  # startup returned although connect has not
        await asyncio.sleep(0.05)
        assert [set(h) for h in asked] == [{"stt", "tts", "llm"}]
        assert asked[0]["stt"] is local_handles.stt and asked[0]["llm"] is local_handles.llm
        pending = [t for t in asyncio.all_tasks() if t.get_coro().__name__ == "slow_connect"]
        assert len(pending) == 1 and not pending[0].done()
    await asyncio.sleep(0)
    assert pending[0].cancelled()  # shutdown does not leave it behind


async def test_over_real_deployments_every_model_answers_ready(local_handles):
    handles = {"stt": local_handles.stt, "tts": local_handles.tts, "llm": local_handles.llm}
    assert await handle_warmup.connect(handles, timeout_s=30) == {"stt": True, "tts": True, "llm": True}
