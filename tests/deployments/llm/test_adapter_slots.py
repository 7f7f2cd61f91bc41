"""Admission of adapter requests: never more distinct adapters in flight than the slots allow."""

from __future__ import annotations

import asyncio
import random

import pytest

from deployments.llm.adapters import AdapterSlots, AdapterSpec, LoadedAdapter


async def test_distinct_adapters_in_flight_never_exceed_the_limit_and_base_always_passes():
    slots, peak, done = AdapterSlots(2), [0], []
    rng = random.Random(7)

    async def request(key):
        async with slots.hold(key):
            peak[0] = max(peak[0], len(slots.active))
            await asyncio.sleep(rng.uniform(0, 0.01))
            done.append(key)

    keys = [rng.choice(["a", "b", "c", "d", None]) for _ in range(200)]
    await asyncio.wait_for(asyncio.gather(*(request(k) for k in keys)), 10)
    assert peak[0] == 2 and len(done) == 200 and not slots.active


async def test_a_request_for_a_held_adapter_joins_without_waiting():
    slots = AdapterSlots(1)
    async with slots.hold("a"):
        async with asyncio.timeout(0.5):
            async with slots.hold("a"):
                assert slots.active["a"] == 2
        held_b = slots.hold("b")  # keep the context manager alive, or collecting it releases "b"
        waiter = asyncio.ensure_future(held_b.__aenter__())
        await asyncio.sleep(0.05)
        assert not waiter.done()  # "b" waits for "a" to drain
    await asyncio.wait_for(waiter, 1)
    assert dict(slots.active) == {"b": 1}


async def test_a_cancelled_request_frees_its_slot():
    slots = AdapterSlots(1)

    async def long():
        async with slots.hold("a"):
            await asyncio.sleep(10)

    task = asyncio.ensure_future(long())
    await asyncio.sleep(0.01)
    task.cancel()
    async with asyncio.timeout(1):
        async with slots.hold("b"):
            assert dict(slots.active) == {"b": 1}


class FakeEngine:
    def __init__(self):
        self.removed = []

    async def remove_lora(self, lora_id):
        self.removed.append(lora_id)


class Req:
    lora_int_id = 42


async def test_an_evicted_adapter_leaves_the_engine_only_after_its_last_request():
    engine = FakeEngine()
    loaded = LoadedAdapter(AdapterSpec("a", 1, "/x"), Req(), engine)
    loaded.acquire()
    await loaded.__del__()  # what Serve's multiplexer awaits on eviction
    await asyncio.sleep(0)
    assert engine.removed == []
    loaded.release()
    await asyncio.sleep(0)
    assert engine.removed == [42]


@pytest.mark.parametrize("bad", [{"name": "a b", "version": 1, "path": "/x"}, {"name": "a", "version": 0, "path": "/x"}])
def test_adapter_ids_are_validated(bad):
    if bad["version"] == 0:
        assert AdapterSpec.from_dict(bad).id == "a@v0"  # versions are the registry's to validate
    else:
        with pytest.raises(ValueError):
            AdapterSpec.from_dict(bad)


def test_no_spare_lora_slot_is_refused():
    from deployments.llm.engine import VLLMConfig

    cfg = VLLMConfig("m", "p", {"enable_lora": True, "max_loras": 2}, max_adapters=2)
    with pytest.raises(ValueError, match="spare"):
        cfg.resolved_engine_args()
    args = VLLMConfig("m", "p", {"enable_lora": True}, max_adapters=2).resolved_engine_args()
    assert (args["max_loras"], args["max_cpu_loras"]) == (3, 5)
    with pytest.raises(ValueError, match="max_cpu_loras"):
        VLLMConfig("m", "p", {"enable_lora": True, "max_cpu_loras": 3}, max_adapters=2).resolved_engine_args()
    assert "max_loras" not in VLLMConfig("m", "p", {}).resolved_engine_args()
