"""int8 weights with LoRA on a processor without AMX: the path an AMD EPYC takes, forced on any machine.

vLLM's oneDNN int8 kernel (every x86 CPU without AMX tiles) used to leave ``layer.weight = None``
and the LoRA wrapper crashed the engine core on it; an AMX machine never took that path, so CI on
one could not see it. ``SECRETARY_CPU_ASSUME_NO_AMX=1`` hides AMX from the planner and from vLLM's
processes, so this test runs the oneDNN path wherever it runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def tiny_int8(tmp_path_factory) -> Path:
    from provisioning.int8_checkpoint import write_int8_checkpoint
    from provisioning.tiny_models import build_tiny_llm

    out = build_tiny_llm(tmp_path_factory.mktemp("tiny-int8-lora"), adapters=1)
    write_int8_checkpoint(out / "base", out / "int8")
    return out


def run_child(tiny: Path, **env: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.deployments.llm.int8_lora_child", str(tiny)],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"the engine failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(lines[0][len("RESULT ") :])


def test_int8_with_lora_serves_on_the_onednn_path(tiny_int8):
    result = run_child(tiny_int8, SECRETARY_CPU_ASSUME_NO_AMX="1")
    assert result["plan"]["kernel"] == "onednn" and not result["plan"]["fallback"]
    # oneDNN prepacked the weight and the plugin left an empty int8 stand-in (AMX's sgl kernels
    # keep a packed weight with elements): this really ran the non-AMX path, with LoRA wrapping it.
    assert result["worker"] == {"lora_wrapped": True, "weight_dtype": "torch.int8", "weight_numel": 0}
    assert len(result["base"]) == len(result["adapter"]) == 8
    assert result["adapter"] != result["base"]  # the adapter is applied on top of the int8 base
