"""Write an int8 (W8A8) copy of a Hugging Face Llama checkpoint in the compressed-tensors format.

Why: on the CPU one decoding step reads every weight once, and on this machine that read is
what a token costs (≈ 10-20 GB/s for one core, ≈ 270 MB of bf16 weights for SmolLM2-135M). vLLM's
CPU build runs compressed-tensors W8A8 checkpoints on its int8 GEMMs (oneDNN, VNNI): 36.5 ms a
token against 45.6 ms with the CPU profile's settings (BENCHMARKS.md, "An int8 LLM for the CPU
profile").

What: each chosen linear layer's weight becomes int8 with one float scale per output row
(symmetric, round to nearest: no calibration data needed, so the step is reproducible), and the
layer quantises its input per token at run time (vLLM's "dynamic per-token" activations). The
layers listed in ``keep`` stay bf16: ``down_proj`` by default, whose input (after SiLU × up) has
outliers of several hundred that per-token int8 flattens (perplexity +4.3 % with it in int8,
+2.6 % without). The embeddings and the tied ``lm_head`` stay bf16 too (only linear layers are
targeted, and ``lm_head`` is listed as ignored).

The persona adapters (LoRA on q/k/v/o) load onto the int8 base unchanged: LoRA adds its own
product to the layer's output, and this transformation leaves each layer's input as it was.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path

# The Llama linear layers by name; the MLP's down projection stays bf16 (see the module docstring).
LINEAR_LAYERS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
KEEP_BF16 = ("down_proj",)
FORMAT_VERSION = 1  # part of the provisioning fingerprint: bump when the output changes


def _scheme(**overrides) -> dict:
    base = {
        "num_bits": 8,
        "type": "int",
        "symmetric": True,
        "group_size": None,
        "block_structure": None,
        "actorder": None,
        "observer": None,
        "observer_kwargs": {},
        "dynamic": False,
    }
    return {**base, **overrides}


def quantization_config(keep: Iterable[str]) -> dict:
    """compressed-tensors' ``quantization_config`` for int8 channel weights and int8 token activations."""
    return {
        "quant_method": "compressed-tensors",
        "format": "int-quantized",
        "quantization_status": "compressed",
        "kv_cache_scheme": None,
        "ignore": ["lm_head", *(f"re:.*{name}$" for name in keep)],
        "config_groups": {
            "group_0": {
                "targets": ["Linear"],
                "weights": _scheme(strategy="channel"),
                "input_activations": _scheme(strategy="token", dynamic=True),
                "output_activations": None,
            },
        },
    }


def quantize_rows(weight):
    """int8 weight and per-row scale (float32, shape ``[rows, 1]``) with ``weight ≈ q * scale``."""
    import torch

    w = weight.float()
    scale = w.abs().amax(dim=1, keepdim=True).clamp(min=torch.finfo(torch.float32).tiny) / 127.0
    q = torch.round(w / scale).clamp(-127, 127).to(torch.int8)
    return q, scale


def _quantized(name: str, keep: tuple[str, ...]) -> bool:
    if not name.endswith(".weight"):
        return False
    layer = name[: -len(".weight")].rsplit(".", 1)[-1]
    return layer in LINEAR_LAYERS and layer not in keep


def write_int8_checkpoint(src: Path, dst: Path, keep: Iterable[str] = KEEP_BF16) -> dict:
    """Write ``dst`` from the bf16/fp32 checkpoint in ``src``; returns what was quantised.

    ``dst`` gets the same tokenizer, template and generation files and a ``config.json`` with the
    ``quantization_config`` that tells vLLM how to run it.
    """
    import torch
    from safetensors.torch import load_file, save_file

    keep = tuple(keep)
    unknown = set(keep) - set(LINEAR_LAYERS)
    if unknown:
        raise ValueError(f"unknown layers to keep in bf16: {sorted(unknown)}; known: {LINEAR_LAYERS}")
    config = json.loads((src / "config.json").read_text())
    if "quantization_config" in config:
        raise ValueError(f"{src} is already quantised ({config['quantization_config'].get('quant_method')})")
    shards = sorted(src.glob("*.safetensors"))
    if [s.name for s in shards] != ["model.safetensors"]:
        raise ValueError(f"expected one model.safetensors in {src}, found {[s.name for s in shards]}")
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if f.is_file() and f.suffix != ".safetensors" and f.name != "config.json" and not f.name.startswith("."):
            shutil.copy2(f, dst / f.name)

    out: dict[str, torch.Tensor] = {}
    quantised = 0
    for name, tensor in load_file(shards[0]).items():
        if _quantized(name, keep):
            q, scale = quantize_rows(tensor)
            out[name] = q
            out[name[: -len("weight")] + "weight_scale"] = scale
            quantised += 1
        else:
            out[name] = tensor
    if not quantised:
        raise ValueError(f"no linear layer to quantise in {src}")
    save_file(out, dst / "model.safetensors", metadata={"format": "pt"})
    config["quantization_config"] = quantization_config(keep)
    (dst / "config.json").write_text(json.dumps(config, indent=2))
    size = sum(t.numel() * t.element_size() for t in out.values())
    return {"quantised_layers": quantised, "kept_bf16": list(keep), "bytes": size}
