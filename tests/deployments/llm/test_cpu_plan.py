"""The LLM's weights and kernel per processor: every x86-64 tier gets a plan or a clear refusal."""

from __future__ import annotations

from dataclasses import replace

import pytest

from deployments.llm.cpu_plan import UnsupportedCpuError, is_int8_checkpoint, plan_cpu_llm
from deployments.llm.engine import resolve_env_value
from infra.cpu_features import CpuFeatures, detect

XEON = CpuFeatures("Intel Xeon (Sapphire Rapids)", 2, avx2=True, avx512=True, avx512_bf16=True, amx=True)
EPYC = CpuFeatures("AMD EPYC", 2, avx2=True, avx512=True, avx512_bf16=True, amx=False)
AVX2 = CpuFeatures("Intel Core (Haswell)", 4, avx2=True, avx512=False, avx512_bf16=False, amx=False)
OLD = CpuFeatures("an x86-64-v2 CPU", 2, avx2=False, avx512=False, avx512_bf16=False, amx=False)
FALLBACK = {"path": "smollm2-bf16", "engine_args": {"dtype": "float32"}}
ARGS = {"dtype": "bfloat16", "enable_lora": True}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    from provisioning.int8_checkpoint import write_int8_checkpoint
    from provisioning.tiny_models import build_tiny_llm

    out = build_tiny_llm(tmp_path_factory.mktemp("plan"), adapters=0)
    write_int8_checkpoint(out / "base", out / "int8")
    return out


def test_int8_checkpoints_are_recognised(checkpoints, tmp_path):
    assert is_int8_checkpoint(checkpoints / "int8")
    assert not is_int8_checkpoint(checkpoints / "base")
    assert not is_int8_checkpoint(tmp_path)  # no config.json: not int8, and no crash
    (tmp_path / "config.json").write_text("{not json")
    assert not is_int8_checkpoint(tmp_path)


@pytest.mark.parametrize(("cpu", "kernel"), [(XEON, "amx"), (EPYC, "onednn")])
def test_int8_serves_on_amx_and_on_avx512_without_it(checkpoints, cpu, kernel):
    plan = plan_cpu_llm("int8", checkpoints / "int8", cpu, FALLBACK, ARGS)
    assert (plan.path, plan.kernel, plan.fallback, plan.engine_args) == ("int8", kernel, False, ARGS)


def test_an_avx2_only_cpu_gets_the_fallback_checkpoint_and_its_engine_args(checkpoints):
    plan = plan_cpu_llm("int8", checkpoints / "int8", AVX2, FALLBACK, ARGS)
    assert plan.fallback and plan.kernel == "bf16" and plan.path == "smollm2-bf16"
    assert plan.engine_args == {"dtype": "float32", "enable_lora": True}
    assert "AVX2-only" in plan.reason


def test_an_avx2_only_cpu_without_a_fallback_is_refused_with_what_to_add(checkpoints):
    with pytest.raises(UnsupportedCpuError, match="cpu_fallback"):
        plan_cpu_llm("int8", checkpoints / "int8", AVX2, None, ARGS)


def test_a_cpu_without_avx2_is_refused_at_start(checkpoints):
    with pytest.raises(UnsupportedCpuError, match="no AVX2"):
        plan_cpu_llm("base", checkpoints / "base", OLD, FALLBACK, ARGS)


def test_an_unquantised_checkpoint_is_served_as_it_is(checkpoints):
    plan = plan_cpu_llm("base", checkpoints / "base", AVX2, FALLBACK, ARGS)
    assert (plan.kernel, plan.path, plan.fallback) == ("native", "base", False)


def test_assume_no_amx_hides_amx_from_the_probe(monkeypatch):
    monkeypatch.setenv("SECRETARY_CPU_ASSUME_NO_AMX", "1")
    cpu = detect()
    assert not cpu.amx and cpu.tier != "amx"
    assert cpu.cpus >= 1 and cpu.model


def test_the_tier_is_the_widest_family():
    assert [c.tier for c in (XEON, EPYC, AVX2, OLD)] == ["amx", "avx512_bf16", "avx2", "none"]
    assert replace(EPYC, avx512_bf16=False).tier == "avx512"


@pytest.mark.parametrize(
    ("value", "cpus", "expected"),
    [
        ("{last_cpu}", [0, 1], "1"),
        ("{last_cpu}", [0], "0"),
        ("{last_cpu}", [2, 5, 7], "7"),
        ("{all_cpus}", [0, 1, 2], "0,1,2"),
        ("0-1", [0], "0-1"),
        ("1", [0, 1], "1"),
    ],
)
def test_cpu_placeholders_fit_the_cpus_this_process_has(value, cpus, expected):
    assert resolve_env_value(value, cpus) == expected
