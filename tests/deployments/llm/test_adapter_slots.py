"""The engine's adapter registrations: bounded, and removed only after their last request."""

from __future__ import annotations

import asyncio

import pytest

from deployments.llm.adapters import AdapterSpec, EngineAdapters, LoadedAdapter


class FakeEngine:
    def __init__(self):
        self.added, self.removed = [], []

    async def add_lora(self, request):
        self.added.append(request.lora_int_id)

    async def remove_lora(self, lora_id):
        self.removed.append(lora_id)


class Req:
    def __init__(self, lora_int_id):
        self.lora_int_id = lora_int_id


async def test_an_evicted_adapter_leaves_the_engine_only_after_its_last_request():
    engine = FakeEngine()
    adapters = EngineAdapters(engine, 4)
    await adapters.add(Req(42))
    loaded = LoadedAdapter(AdapterSpec("a", 1, "/x"), Req(42), adapters)
    loaded.acquire()
    await loaded.__del__()  # what Serve's multiplexer awaits on eviction
    assert engine.removed == [] and adapters.registered == {42}
    loaded.release()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert engine.removed == [42] and adapters.registered == set()


async def test_an_idle_adapter_is_removed_before_eviction_returns():
    engine = FakeEngine()
    adapters = EngineAdapters(engine, 4)
    await adapters.add(Req(1))
    await LoadedAdapter(AdapterSpec("a", 1, "/x"), Req(1), adapters).evict()
    assert engine.removed == [1] and adapters.registered == set()


async def test_a_load_waits_while_the_engine_is_full_and_goes_on_after_a_removal():
    engine = FakeEngine()
    adapters = EngineAdapters(engine, 2)
    await adapters.add(Req(1))
    await adapters.add(Req(2))
    third = asyncio.ensure_future(adapters.add(Req(3)))
    await asyncio.sleep(0.05)
    assert not third.done() and engine.added == [1, 2]
    await adapters.remove(1)
    await asyncio.wait_for(third, 1)
    assert adapters.registered == {2, 3} and engine.added == [1, 2, 3]


@pytest.mark.parametrize("bad", [{"name": "a b", "version": 1, "path": "/x"}, {"name": "a", "path": "/x"}])
def test_adapter_specs_are_validated(bad):
    with pytest.raises((ValueError, KeyError)):
        AdapterSpec.from_dict(bad)


def test_lora_slots_are_sized_for_held_and_draining_adapters_plus_a_spare():
    from deployments.llm.engine import VLLMConfig

    args = VLLMConfig("m", "p", {"enable_lora": True}, max_adapters=2).resolved_engine_args()
    assert (args["max_loras"], args["max_cpu_loras"]) == (5, 5)
    for key in ("max_loras", "max_cpu_loras"):
        with pytest.raises(ValueError, match="spare"):
            VLLMConfig("m", "p", {"enable_lora": True, key: 4}, max_adapters=2).resolved_engine_args()
    assert "max_loras" not in VLLMConfig("m", "p", {}).resolved_engine_args()
