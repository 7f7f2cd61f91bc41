"""The GPU readiness script plans from the real GPU profile and fails clearly without a GPU.

Its measurements need a GPU (bench/gpu_readiness.py); here, on the CPU, what is checked is that
it reads serve_config.yaml through the engines' own config classes and reports a missing device
as a failed check, with the others' results intact.
"""

from __future__ import annotations

import json
import subprocess
import sys

from infra.settings import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "bench" / "gpu_readiness.py"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


def test_the_plan_reads_the_gpu_profile_through_the_engines_configs():
    r = run("--plan")
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)["plan"]
    assert plan["stt"] == {"engine": "faster-whisper", "models": ["whisper-large-v3-turbo"], "compute_type": "float16"}
    assert plan["llm"]["lora"] is True and plan["tts"]["piper_cuda"] == "cuda"
    assert plan["checks"] == ["cuda", "stt", "tts", "llm", "calls"]


def test_without_a_gpu_the_cuda_check_fails_with_its_reason(tmp_path):
    out = tmp_path / "report.json"
    r = run("--only", "cuda", "--out", str(out))
    assert r.returncode == 1, r.stdout + r.stderr  # one failed check
    report = json.loads(out.read_text())
    assert report["failed"] == ["cuda"]
    assert "no CUDA device" in report["results"]["cuda"]["error"]


def test_an_unknown_check_is_refused():
    r = run("--only", "cuda,warp-drive")
    assert r.returncode == 2 and "warp-drive" in r.stderr
