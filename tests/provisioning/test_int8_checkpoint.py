"""The int8 (W8A8) checkpoint: right numbers, the format compressed-tensors reads, bad input refused."""

from __future__ import annotations

import json

import pytest

from infra.settings import get_settings
from provisioning.int8_checkpoint import KEEP_BF16, quantize_rows, write_int8_checkpoint


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    from provisioning.tiny_models import build_tiny_llm

    return build_tiny_llm(tmp_path_factory.mktemp("tiny-int8"), adapters=0) / "base"


def test_rows_round_to_within_half_a_step():
    import torch

    w = torch.randn(64, 96) * torch.logspace(-3, 1, 64)[:, None]  # rows of very different sizes
    w[5] = 0  # an all-zero row must not divide by zero
    q, scale = quantize_rows(w.to(torch.bfloat16))
    assert q.dtype == torch.int8 and scale.shape == (64, 1)
    assert int(q.abs().max()) == 127 and int(q[5].abs().max()) == 0
    err = (q.float() * scale - w.to(torch.bfloat16).float()).abs()
    assert bool((err <= scale / 2 + 1e-6).all())


def test_checkpoint_layers_and_config(tiny_base, tmp_path):
    import torch
    from safetensors.torch import load_file

    info = write_int8_checkpoint(tiny_base, tmp_path / "int8")
    tensors = load_file(tmp_path / "int8" / "model.safetensors")
    layers = json.loads((tiny_base / "config.json").read_text())["num_hidden_layers"]
    assert info["quantised_layers"] == 6 * layers  # q, k, v, o, gate, up; down stays bf16
    assert tensors["model.layers.0.self_attn.q_proj.weight"].dtype == torch.int8
    assert tensors["model.layers.0.mlp.up_proj.weight_scale"].dtype == torch.float32
    assert tensors["model.layers.0.mlp.down_proj.weight"].dtype != torch.int8
    assert "model.layers.0.mlp.down_proj.weight_scale" not in tensors
    assert tensors["model.embed_tokens.weight"].dtype != torch.int8
    config = json.loads((tmp_path / "int8" / "config.json").read_text())["quantization_config"]
    assert config["quant_method"] == "compressed-tensors" and config["format"] == "int-quantized"
    assert config["ignore"] == ["lm_head", "re:.*down_proj$"]
    group = config["config_groups"]["group_0"]
    assert group["weights"]["strategy"] == "channel" and group["input_activations"]["dynamic"] is True
    assert (tmp_path / "int8" / "tokenizer.json").exists()
    assert KEEP_BF16 == ("down_proj",)


def test_compressed_tensors_agrees(tiny_base, tmp_path):
    """compressed-tensors (the format's reference library) accepts the config and makes the same int8."""
    import torch
    from compressed_tensors.compressors.naive_quantized.base import IntQuantizationCompressor
    from compressed_tensors.quantization import QuantizationConfig
    from safetensors.torch import load_file

    write_int8_checkpoint(tiny_base, tmp_path / "int8")
    config = json.loads((tmp_path / "int8" / "config.json").read_text())["quantization_config"]
    scheme = QuantizationConfig.model_validate(config).config_groups["group_0"]
    assert IntQuantizationCompressor.can_compress(torch.nn.Linear, scheme)
    ours = load_file(tmp_path / "int8" / "model.safetensors")
    original = load_file(tiny_base / "model.safetensors")
    name = "model.layers.1.self_attn.o_proj.weight"
    q, scale = ours[name], ours[name + "_scale"]
    reference = IntQuantizationCompressor.compress({"weight": original[name].float(), "weight_scale": scale}, scheme)
    assert torch.equal(reference["weight"], q)
    back = IntQuantizationCompressor.decompress({"weight": q, "weight_scale": scale}, scheme)["weight"]
    assert bool(((back.float() - original[name].float()).abs() <= scale / 2 + 1e-6).all())


def test_refuses_what_it_cannot_quantise(tiny_base, tmp_path):
    with pytest.raises(ValueError, match="unknown layers"):
        write_int8_checkpoint(tiny_base, tmp_path / "a", keep=("lm_head",))
    write_int8_checkpoint(tiny_base, tmp_path / "b")
    with pytest.raises(ValueError, match="already quantised"):
        write_int8_checkpoint(tmp_path / "b", tmp_path / "c")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "config.json").write_text("{}")
    with pytest.raises(ValueError, match=r"one model\.safetensors"):
        write_int8_checkpoint(tmp_path / "empty", tmp_path / "d")


def test_prepared_profile_model_is_int8():
    """`secretary models prepare` built the directory the CPU profile serves."""
    d = get_settings().models_dir / "smollm2-135m-instruct-w8a8"
    config = json.loads((d / "config.json").read_text())
    assert config["quantization_config"]["quant_method"] == "compressed-tensors"
    bf16 = (get_settings().models_dir / "smollm2-135m-instruct" / "model.safetensors").stat().st_size
    # q/k/v/o and gate/up in int8; the embeddings (tied to lm_head) and down_proj stay bf16
    assert (d / "model.safetensors").stat().st_size < 0.75 * bf16
