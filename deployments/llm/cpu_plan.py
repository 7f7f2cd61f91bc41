"""Which weights and kernels the LLM serves with on this processor, decided once at start.

The CPU profile serves an int8 (W8A8) checkpoint. vLLM's CPU build runs it on one of two GEMM
families, chosen per layer by ``torch.cpu._is_amx_tile_supported()``:

- ``amx``: sgl-kernels on AMX tiles (Sapphire Rapids and later Xeons), where it was first measured;
- ``onednn``: oneDNN's int8 GEMMs on AVX-512 (an AMD EPYC, older Xeons). vLLM's build drops the
  weight tensor there, which LoRA needs; the project's vLLM plugin keeps an empty stand-in
  (``vllm_plugin.keep_int8_weight_stub``), so int8 with persona adapters serves on both.

AVX2-only machines load vLLM's ``_C_AVX2`` library, whose int8 path has never run here: they get
the profile's ``cpu_fallback`` (the bf16 checkpoint), logged as such. A processor without AVX2
cannot run vLLM's CPU build at all, and the replica says so at start instead of crashing later.

``dtype: bfloat16`` needs AVX-512 BF16 to be fast; without it the fallback may set its own
``engine_args`` (float32, say). The decision and its reason are logged (``llm.cpu_plan``) and
reported by ``model_info`` so ``/v1/models`` and the demo show what is being served.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.cpu_features import CpuFeatures


class UnsupportedCpuError(RuntimeError):
    """This processor cannot run the profile's LLM; the message says what it lacks and what to do."""


@dataclass(frozen=True)
class CpuPlan:
    path: str
    kernel: str  # amx, onednn, bf16 or native (an unquantised checkpoint: vLLM's own choice)
    reason: str
    engine_args: dict[str, Any] = field(default_factory=dict)
    fallback: bool = False

    def as_dict(self) -> dict:
        return {"path": self.path, "kernel": self.kernel, "reason": self.reason, "fallback": self.fallback}


def is_int8_checkpoint(model_dir: Path) -> bool:
    """Whether the checkpoint carries an int8 compressed-tensors config (``provisioning/int8_checkpoint.py``)."""
    try:
        config = json.loads((model_dir / "config.json").read_text())
    except (OSError, ValueError):
        return False
    quant = config.get("quantization_config") or {}
    if quant.get("quant_method") != "compressed-tensors":
        return False
    groups = (quant.get("config_groups") or {}).values()
    return any(
        (g.get("weights") or {}).get("num_bits") == 8 and (g.get("weights") or {}).get("type") == "int" for g in groups
    )


def plan_cpu_llm(
    path: str, model_dir: Path, cpu: CpuFeatures, fallback: dict[str, Any] | None, engine_args: dict[str, Any]
) -> CpuPlan:
    """The weights and kernel for ``path`` (resolved to ``model_dir``) on ``cpu``.

    ``fallback`` is the profile's ``cpu_fallback`` block: ``{path, engine_args?}``.
    """
    if not cpu.avx2:
        raise UnsupportedCpuError(
            f"this processor ({cpu.model}) has no AVX2: vLLM's CPU build needs x86-64 with AVX2 at least. "
            "Serve the LLM on another node, or use the cloud fallback (SECRETARY_CLOUD_LLM_URL)"
        )
    if not is_int8_checkpoint(model_dir):
        return CpuPlan(path, "native", f"an unquantised checkpoint on {cpu.tier}", engine_args)
    if cpu.amx:
        return CpuPlan(path, "amx", "int8 on AMX tiles (sgl kernels)", engine_args)
    if cpu.avx512:
        return CpuPlan(path, "onednn", "int8 on oneDNN (AVX-512, no AMX); LoRA keeps a weight stand-in", engine_args)
    why = f"int8 has not run on AVX2-only processors ({cpu.model})"
    if not fallback or not fallback.get("path"):
        raise UnsupportedCpuError(
            f"{why} and the profile's llm has no cpu_fallback: add `cpu_fallback: {{path: <bf16 checkpoint>}}`"
        )
    return CpuPlan(
        fallback["path"],
        "bf16",
        f"{why}: serving the fallback checkpoint",
        {**engine_args, **(fallback.get("engine_args") or {})},
        fallback=True,
    )
