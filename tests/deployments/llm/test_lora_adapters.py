"""Persona adapters on one vLLM engine: correctness against peft, hot-load, eviction, bad adapters.

The reference is transformers + peft on the same tiny model and adapters: greedy decoding of base
and adapter requests sent together (so vLLM batches them) must give the same tokens, one by one.
That is the check that catches vLLM's CPU LoRA slot bug (``shared/spec/cpu-profile.md``).
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from deployments.errors import AdapterUnavailableError

GREEDY = {
    "max_tokens": 12,
    "temperature": 0.0,
    "top_p": 1.0,
    "stop": [],
    "seed": None,
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
    "ignore_eos": True,
}
PROMPTS = ["Hello, how are you?", "Оставьте сообщение, пожалуйста.", "What are your opening hours?"]


def adapter(tiny_llm_dir: Path, i: int, version: int = 1, name: str | None = None) -> dict:
    return {"name": name or f"lora-{i}", "version": version, "path": str(tiny_llm_dir / f"lora-{i}")}


async def tokens(server, prompt: str, adapter_spec: dict | None) -> tuple[int, ...]:
    deltas = [d async for d in server.chat([{"role": "user", "content": prompt}], GREEDY, None, adapter_spec)]
    return tuple(deltas[-1]["token_ids"])


@pytest.fixture(scope="module")
def peft_reference(tiny_llm_dir):
    """Greedy tokens from transformers (+ peft for adapters) for every (prompt, adapter) pair."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_llm_dir / "base")

    def prompt_ids(prompt):
        ids = tok.apply_chat_template([{"role": "user", "content": prompt}], tokenize=True, add_generation_prompt=True)
        return list(ids["input_ids"] if hasattr(ids, "keys") else ids)

    out = {}
    for which in (None, 0, 1):
        model = AutoModelForCausalLM.from_pretrained(tiny_llm_dir / "base", dtype=torch.float32)
        if which is not None:
            model = PeftModel.from_pretrained(model, tiny_llm_dir / f"lora-{which}")
        model.eval()
        for prompt in PROMPTS:
            ids = prompt_ids(prompt)
            with torch.no_grad():
                gen = model.generate(
                    torch.tensor([ids]),
                    max_new_tokens=GREEDY["max_tokens"],
                    do_sample=False,
                    min_new_tokens=GREEDY["max_tokens"],
                    pad_token_id=0,
                )
            out[(prompt, which)] = tuple(gen[0, len(ids) :].tolist())
    return out


@pytest.mark.parametrize("warm_up", [0, 5], ids=["fresh", "after-5-other-adapters"])
async def test_mixed_batch_of_base_and_adapters_matches_peft_token_for_token(
    llm_server, tiny_llm_dir, peft_reference, warm_up
):
    # The slot bug showed only after as many adapters had been resident as the engine has
    # LoRA slots: the second case first cycles five other adapter versions through the replica.
    for v in range(warm_up):
        await tokens(llm_server, PROMPTS[0], adapter(tiny_llm_dir, v % 3, 100 + v, "warm"))
    cases = [(p, which) for p in PROMPTS for which in (None, 0, 1)]
    # All nine requests at once, so the engine batches base and both adapters together.
    got = await asyncio.gather(*(tokens(llm_server, p, None if w is None else adapter(tiny_llm_dir, w)) for p, w in cases))
    for (prompt, which), toks in zip(cases, got, strict=True):
        assert toks == peft_reference[(prompt, which)], (prompt, which)
    # The adapters really change the output, or the comparison above would prove little.
    for prompt in PROMPTS:
        assert len({peft_reference[(prompt, w)] for w in (None, 0, 1)}) == 3


async def test_a_new_adapter_version_is_used_by_the_next_request_without_a_restart(llm_server, tiny_llm_dir, tmp_path):
    # Version 1 of "frontdesk" is lora-0's weights; version 2 is published with lora-1's.
    v1 = adapter(tiny_llm_dir, 0, 1, "frontdesk")
    v2 = {**adapter(tiny_llm_dir, 1, 2, "frontdesk")}
    long = {**GREEDY, "max_tokens": 64}
    # A long request on v1 is in flight while v2 is published and used.
    stream = llm_server.chat([{"role": "user", "content": PROMPTS[0]}], long, None, v1)
    first = await anext(stream)
    assert first["finish_reason"] is None
    new = await tokens(llm_server, PROMPTS[0], v2)
    rest = [d async for d in stream]
    assert rest[-1]["finish_reason"] == "length" and rest[-1]["completion_tokens"] == 64  # not dropped
    assert new == await tokens(llm_server, PROMPTS[0], adapter(tiny_llm_dir, 1))
    assert new != await tokens(llm_server, PROMPTS[0], adapter(tiny_llm_dir, 0))


async def test_the_least_recently_used_adapter_is_evicted_from_the_engine(llm_server, tiny_llm_dir):
    for i in (0, 1, 2):  # max_adapters is 2: the third evicts the least recently used
        await tokens(llm_server, PROMPTS[0], adapter(tiny_llm_dir, i, 7))
    await asyncio.sleep(0.05)
    assert len(await llm_server.loaded_adapters()) == 2
    # An evicted adapter comes back on demand with the same output.
    assert await tokens(llm_server, PROMPTS[1], adapter(tiny_llm_dir, 0, 7)) == await tokens(
        llm_server, PROMPTS[1], adapter(tiny_llm_dir, 0, 8)
    )


async def test_a_missing_adapter_fails_clearly_and_other_requests_keep_working(llm_server, tiny_llm_dir, tmp_path):
    with pytest.raises(AdapterUnavailableError) as e:
        await tokens(llm_server, PROMPTS[0], {"name": "ghost", "version": 1, "path": str(tmp_path / "nope")})
    assert "ghost@v1" in e.value.message and e.value.code == "adapter_unavailable"
    assert len(await tokens(llm_server, PROMPTS[0], None)) == GREEDY["max_tokens"]


async def test_a_corrupt_adapter_fails_clearly(llm_server, tiny_llm_dir, tmp_path):
    bad = tmp_path / "corrupt"
    shutil.copytree(tiny_llm_dir / "lora-0", bad)
    (bad / "adapter_model.safetensors").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(AdapterUnavailableError):
        await tokens(llm_server, PROMPTS[0], {"name": "corrupt", "version": 1, "path": str(bad)})
    big = tmp_path / "rank-too-high"
    shutil.copytree(tiny_llm_dir / "lora-1", big)
    cfg = json.loads((big / "adapter_config.json").read_text())
    (big / "adapter_config.json").write_text(json.dumps({**cfg, "r": 64}))
    with pytest.raises(AdapterUnavailableError):
        await tokens(llm_server, PROMPTS[0], {"name": "big", "version": 1, "path": str(big)})
    assert len(await tokens(llm_server, PROMPTS[0], adapter(tiny_llm_dir, 1))) == GREEDY["max_tokens"]


@pytest.mark.parametrize(
    "spec", [{"name": "x"}, {"name": "bad name!", "version": 1, "path": "/x"}, {"name": "x", "version": "one", "path": "/x"}]
)
async def test_malformed_adapter_specs_are_refused(llm_server, spec):
    with pytest.raises(AdapterUnavailableError):
        await tokens(llm_server, PROMPTS[0], spec)


async def test_an_adapter_training_layers_the_profile_does_not_serve_is_refused(llm_server, tiny_llm_dir, tmp_path):
    mlp = tmp_path / "mlp"
    shutil.copytree(tiny_llm_dir / "lora-0", mlp)
    cfg = json.loads((mlp / "adapter_config.json").read_text())
    (mlp / "adapter_config.json").write_text(json.dumps({**cfg, "target_modules": ["q_proj", "gate_proj"]}))
    with pytest.raises(AdapterUnavailableError) as e:
        await tokens(llm_server, PROMPTS[0], {"name": "mlp", "version": 1, "path": str(mlp)})
    assert "gate_proj" in e.value.message and "lora_target_modules" in e.value.message
