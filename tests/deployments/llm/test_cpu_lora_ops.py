"""The grouped CPU LoRA ops against vLLM's own CPU wrapper, on the same mappings and weights.

vLLM's wrapper selects the *last* slot for base tokens (index -1): with that slot left at zero it
adds nothing, which is the behaviour both must share; with the slot occupied vLLM's adds that
adapter to base tokens (the slot bug) and ours adds nothing.
"""

from __future__ import annotations

import pytest
import torch
from vllm.lora.layers.utils import LoRAMapping
from vllm.lora.punica_wrapper.punica_cpu import PunicaWrapperCPU

from deployments.llm import vllm_plugin
from deployments.llm.cpu_lora_ops import GroupedPunicaWrapperCPU, token_runs

SLOTS, RANK, HIDDEN, SLICES = 4, 8, 64, (64, 16, 16)  # a q/k/v-shaped layer


def test_token_runs():
    assert token_runs([]) == []
    assert token_runs([-1, -1]) == []
    assert token_runs([0, 0, 0]) == [(0, 0, 3)]
    assert token_runs([-1, 2, 2, -1, 1, 2]) == [(2, 1, 3), (1, 4, 5), (2, 5, 6)]


def stacked(last_slot_zero: bool, dtype=torch.bfloat16):
    g = torch.Generator().manual_seed(7)
    a = tuple(torch.randn(SLOTS, 1, RANK, HIDDEN, generator=g).to(dtype) / 8 for _ in SLICES)
    b = tuple(torch.randn(SLOTS, 1, size, RANK, generator=g).to(dtype) / 8 for size in SLICES)
    if last_slot_zero:
        for w in a + b:
            w[SLOTS - 1].zero_()
    return a, b


def wrappers(token_ids: list[int], is_prefill: bool):
    """Both wrappers, given one mapping: LoRA ids per token (0 = base); slot k holds id k + 1."""
    lora_index_to_id = [1, 2, 3, None]
    mapping = LoRAMapping(tuple(token_ids), tuple(token_ids), is_prefill=is_prefill)
    out = []
    for cls in (PunicaWrapperCPU, GroupedPunicaWrapperCPU):
        w = cls(64, 8, "cpu")
        w.update_metadata(mapping, lora_index_to_id, SLOTS, 1000)
        out.append(w)
    return out


MAPPINGS = {
    "decode, base and two adapters": ([0, 1, 2, 0, 1], False),
    "prefill, one adapter request then a base one": ([2, 2, 2, 2, 0, 0, 0], True),
    "decode, base only": ([0, 0, 0], False),
    "decode, three adapters side by side": ([1, 2, 3, 1], False),
    "prefill, one adapter": ([3] * 9, True),
}


@pytest.mark.parametrize("name", list(MAPPINGS))
def test_linear_lora_matches_vllm(name):
    ids, prefill = MAPPINGS[name]
    ref, grouped = wrappers(ids, prefill)
    a, b = stacked(last_slot_zero=True)
    x = torch.randn(len(ids), HIDDEN).to(torch.bfloat16)
    base = torch.randn(len(ids), sum(SLICES)).to(torch.bfloat16)
    y_ref, y_ours = base.clone(), base.clone()
    ref.add_lora_linear(y_ref, x, a, b, 1.0, SLICES)
    grouped.add_lora_linear(y_ours, x, a, b, 1.0, SLICES)
    torch.testing.assert_close(y_ours.float(), y_ref.float(), rtol=2e-2, atol=2e-2)
    changed = (y_ours != base).any(dim=1).tolist()
    assert changed == [i > 0 for i in ids]  # adapter tokens change, base tokens are untouched


def test_a_slot_loaded_again_is_used_at_once():
    """The fused weights are cached per slot; vLLM writing the slot (a new adapter) must be seen."""
    ref, grouped = wrappers([2, 2], False)
    a, b = stacked(last_slot_zero=True)
    x = torch.randn(2, HIDDEN).to(torch.bfloat16)
    first = torch.zeros(2, sum(SLICES), dtype=torch.bfloat16)
    grouped.add_lora_linear(first, x, a, b, 1.0, SLICES)
    for w in b:
        w[1].mul_(-1.0)  # slot 1 (LoRA id 2) gets other weights, as when vLLM loads a new adapter there
    y_ref, y_ours = torch.zeros_like(first), torch.zeros_like(first)
    ref.add_lora_linear(y_ref, x, a, b, 1.0, SLICES)
    grouped.add_lora_linear(y_ours, x, a, b, 1.0, SLICES)
    torch.testing.assert_close(y_ours.float(), y_ref.float(), rtol=2e-2, atol=2e-2)
    assert not torch.allclose(y_ours.float(), first.float())


def test_shrink_then_expand_matches_vllm():
    """The row-parallel (o_proj) path: a float32 buffer shrunk, then expanded into the output."""
    ids = [1, 0, 3, 3, 2]
    ref, grouped = wrappers(ids, False)
    a, b = stacked(last_slot_zero=True)
    a, b = a[:1], b[:1]
    x = torch.randn(len(ids), HIDDEN).to(torch.bfloat16)
    base = torch.randn(len(ids), SLICES[0]).to(torch.bfloat16)
    for loaded_again in (False, True):  # the second time, slot 2 holds other weights (cached ones must go)
        if loaded_again:
            a[0][2].mul_(-1.0)
        results = []
        for w in (ref, grouped):
            buf = torch.zeros(1, len(ids), RANK, dtype=torch.float32)
            y = base.clone()
            w.add_shrink(buf, x, a, 0.5)
            w.add_expand(y, buf, b, SLICES[:1], offset_start=0, add_input=True)
            results.append((buf, y))
        torch.testing.assert_close(results[1][0], results[0][0], rtol=1e-2, atol=1e-2)
        torch.testing.assert_close(results[1][1].float(), results[0][1].float(), rtol=2e-2, atol=2e-2)


def test_base_tokens_never_get_the_last_slot():
    """vLLM's ops give base tokens the last slot's adapter once it is loaded; ours give them nothing."""
    ref, grouped = wrappers([0, 0], False)
    a, b = stacked(last_slot_zero=False)
    x = torch.randn(2, HIDDEN).to(torch.bfloat16)
    y_ref, y_ours = torch.zeros(2, sum(SLICES), dtype=torch.bfloat16), torch.zeros(2, sum(SLICES), dtype=torch.bfloat16)
    ref.add_lora_linear(y_ref, x, a, b, 1.0, SLICES)
    grouped.add_lora_linear(y_ours, x, a, b, 1.0, SLICES)
    assert y_ref.abs().sum() > 0 and y_ours.abs().sum() == 0


def test_plugin_acts_only_when_the_profile_asks(monkeypatch):
    from vllm.platforms import current_platform

    # vLLM's own choice, whatever an engine started earlier in this process left there.
    vllms = "vllm.lora.punica_wrapper.punica_cpu.PunicaWrapperCPU"
    monkeypatch.setattr(type(current_platform), "get_punica_wrapper", classmethod(lambda cls: vllms))
    monkeypatch.delenv(vllm_plugin.ENV, raising=False)
    vllm_plugin.register()
    assert current_platform.get_punica_wrapper() == vllms
    monkeypatch.setenv(vllm_plugin.ENV, "grouped")
    vllm_plugin.register()
    assert current_platform.get_punica_wrapper() == vllm_plugin.GROUPED


def test_the_plugin_is_installed_where_vllm_looks_for_it():
    from importlib.metadata import entry_points

    found = {ep.name: ep.value for ep in entry_points(group="vllm.general_plugins")}
    assert found.get("secretary_cpu_lora") == "deployments.llm.vllm_plugin:register"
