"""The tiny test model loads in transformers, and its adapters really change the output."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from provisioning.tiny_models import build_tiny_llm

    return build_tiny_llm(tmp_path_factory.mktemp("tiny"), adapters=2)


def test_tiny_model_and_adapters(tiny):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny / "base")
    ids = tok.apply_chat_template(
        [{"role": "user", "content": "Здравствуйте"}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )["input_ids"]
    assert tok.decode(ids[0]).endswith("<|im_start|>assistant\n")
    base = AutoModelForCausalLM.from_pretrained(tiny / "base")
    with torch.no_grad():
        ref = base(ids).logits
        outs = []
        for name in ("lora-0", "lora-1"):
            model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny / "base"), tiny / name)
            outs.append(model(ids).logits)
    assert not torch.allclose(ref, outs[0], atol=1e-3)
    assert not torch.allclose(outs[0], outs[1], atol=1e-3)


def test_build_is_deterministic(tiny, tmp_path):
    from provisioning.tiny_models import build_tiny_llm

    again = build_tiny_llm(tmp_path, adapters=0)
    assert (again / "base" / "model.safetensors").read_bytes() == (tiny / "base" / "model.safetensors").read_bytes()
