"""GPU readiness: exercise the GPU profile's code paths and report what they measured.

Run on a machine with an NVIDIA GPU and the models under SECRETARY_MODELS_DIR, after
``pip install -e '.[gpu]'``:

    python bench/gpu_readiness.py --out var/gpu-readiness.json           # all checks
    python bench/gpu_readiness.py --only llm --calls 1,4,8,16             # some of them
    python bench/gpu_readiness.py --plan                                  # what would run (any machine)

Each check runs the project's own engines, built from ``serve_config.yaml`` exactly as its Serve
deployments build them, in this process:

- ``cuda``: the device, its memory, and onnxruntime's providers;
- ``stt``: faster-whisper in float16 on CUDA: the real-time factor of a spoken clip;
- ``tts``: the profile's voice engine (XTTS-v2) and Piper on CUDA: time to first audio;
- ``llm``: vLLM on CUDA with a LoRA adapter: time to first token and tokens a second, base and adapter;
- ``calls``: N concurrent turns per GPU (STT, then the LLM's first sentence, then its first audio),
  for each N: the median and p95 voice-to-voice time.

A check that fails is reported with its error and the others still run; the exit status is the
number of failed checks. CI never runs this (it has no GPU); its plan is tested (tests/bench/).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra.settings import PROJECT_ROOT, get_settings

CHECKS = ("cuda", "stt", "tts", "llm", "calls")
SPEECH = {
    "ru": "Здравствуйте, это Иван Петров. Передайте, пожалуйста, Артёму, чтобы перезвонил мне в пять часов.",
    "en": "Hello, this is John Smith. Please ask Artem to call me back at five o'clock.",
}
QUESTION = [{"role": "user", "content": "Когда вы открыты в субботу? Ответьте одним предложением."}]


def p95(xs: list[float]) -> float:
    return sorted(xs)[max(0, round(0.95 * len(xs)) - 1)]


def profile_specs(path: Path) -> dict[str, Any]:
    """The model specs of the profile's secretary app, as its deployments get them."""
    config = yaml.safe_load(path.read_text())
    app = next(a for a in config["applications"] if a["name"] == "secretary")
    return app["args"]


def plan(specs: dict[str, Any], only: list[str]) -> dict[str, Any]:
    """What each check will load: config classes built (so a profile typo fails here, on any machine)."""
    from deployments.llm.engine import VLLMConfig
    from deployments.registry import CONFIG_CLASSES, STT_ENGINES, TTS_ENGINES, _load
    from deployments.tts.piper import PiperConfig

    stt = _load(CONFIG_CLASSES[STT_ENGINES[specs["stt"]["engine"]]]).from_dict(specs["stt"]["config"])
    tts = _load(CONFIG_CLASSES[TTS_ENGINES[specs["tts"]["engine"]]]).from_dict(specs["tts"]["config"])
    llm = VLLMConfig.from_dict(specs["llm"])
    piper = PiperConfig.from_dict({"device": "cuda", "voices": [{"id": "joe", "path": "piper/en_US-joe-medium.onnx"}]})
    return {
        "checks": only,
        "stt": {"engine": specs["stt"]["engine"], "models": [m.id for m in stt.models], "compute_type": stt.compute_type},
        "tts": {"engine": specs["tts"]["engine"], "voices": [v.id for v in tts.voices], "piper_cuda": piper.device},
        "llm": {"model": llm.model_id, "lora": llm.lora_enabled, "max_adapters": llm.max_adapters},
    }


class Readiness:
    def __init__(self, specs: dict[str, Any], args: argparse.Namespace) -> None:
        self.specs, self.args = specs, args
        self.report: dict[str, Any] = {}
        self.stt = self.tts = self.llm = None
        self.lora = None

    async def run(self, name: str, check) -> None:
        print(f"== {name}", flush=True)
        t0 = time.perf_counter()
        try:
            result = await check()
            self.report[name] = {"ok": True, **result}
        except Exception as exc:
            self.report[name] = {
                "ok": False,
                "error": f"{type(exc).__name__}: {exc}",
                "trace": traceback.format_exc()[-2000:],
            }
        self.report[name]["seconds"] = round(time.perf_counter() - t0, 1)
        print(json.dumps({k: v for k, v in self.report[name].items() if k != "trace"}, ensure_ascii=False), flush=True)

    async def cuda(self) -> dict[str, Any]:
        import onnxruntime as ort
        import torch

        if not torch.cuda.is_available():
            raise RuntimeError("torch sees no CUDA device")
        free, total = torch.cuda.mem_get_info()
        return {
            "device": torch.cuda.get_device_name(0),
            "capability": ".".join(map(str, torch.cuda.get_device_capability(0))),
            "memory_gib": round(total / 2**30, 1),
            "free_gib": round(free / 2**30, 1),
            "torch": torch.__version__,
            "onnxruntime_providers": ort.get_available_providers(),
        }

    def _clip(self) -> tuple[np.ndarray, str]:
        """A spoken clip at 16 kHz: the TTS check's own Russian speech, else a tone (STT still runs)."""
        audio = self.report.get("tts", {}).get("_clip")
        if audio is not None:
            return audio, "ru"
        t = np.arange(16000 * 4) / 16000
        return (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), "ru"

    async def tts_check(self) -> dict[str, Any]:
        from deployments.registry import TTS_ENGINES, build_engine
        from deployments.tts.piper import PiperConfig, PiperEngine
        from deployments.tts.service import SpeechService

        self.tts = SpeechService(build_engine(TTS_ENGINES, self.specs["tts"]))
        voice = self.specs["ingress"]["default_voice"]
        first, pcm = [], b""
        for _ in range(self.args.trials):
            t0, got = time.perf_counter(), None
            chunks = []
            async for chunk in self.tts.stream(SPEECH["ru"], voice, 1.0, 16000):
                got = got or time.perf_counter() - t0
                chunks.append(chunk)
            first.append(got)
            pcm = b"".join(chunks)
        clip = np.frombuffer(pcm, "<i2").astype(np.float32) / 32768
        out: dict[str, Any] = {
            "engine": self.specs["tts"]["engine"],
            "voice": voice,
            "first_audio_ms_p50": round(statistics.median(first) * 1000, 1),
            "audio_s": round(len(clip) / 16000, 2),
        }
        self.report["tts"] = {"_clip": clip}
        piper_voice = self.args.piper_voice
        if piper_voice and await asyncio.to_thread(Path(get_settings().resolve_model_path(piper_voice)).is_file):
            piper = SpeechService(
                PiperEngine(
                    PiperConfig.from_dict(
                        {"device": "cuda", "voices": [{"id": "p", "path": piper_voice, "language": "ru"}]}
                    ),
                    resolve_path=get_settings().resolve_model_path,
                )
            )
            pf = []
            for _ in range(self.args.trials):
                t0 = time.perf_counter()
                async for _chunk in piper.stream(SPEECH["ru"], "p", 1.0, 16000):
                    pf.append(time.perf_counter() - t0)
                    break
            out["piper_cuda_first_audio_ms_p50"] = round(statistics.median(pf) * 1000, 1)
        else:
            out["piper_cuda"] = f"skipped: no voice at {piper_voice!r} (--piper-voice)"
        return out

    async def stt_check(self) -> dict[str, Any]:
        from deployments.registry import STT_ENGINES, build_engine

        self.stt = build_engine(STT_ENGINES, self.specs["stt"])
        clip, lang = self._clip()
        times, text = [], ""
        for _ in range(self.args.trials):
            t0 = time.perf_counter()
            text = (await asyncio.to_thread(self.stt.transcribe, clip, language=lang)).text
            times.append(time.perf_counter() - t0)
        return {
            "clip_s": round(len(clip) / 16000, 2),
            "latency_ms_p50": round(statistics.median(times) * 1000, 1),
            "rtf": round(statistics.median(times) / (len(clip) / 16000), 4),
            "text": text,
        }

    def _adapter(self, base: Path) -> Path:
        if self.args.adapter:
            return Path(self.args.adapter)
        from provisioning.adapters import random_adapters

        out = Path(tempfile.mkdtemp(prefix="gpu-readiness-"))
        rank = min(16, int(self.specs["llm"]["engine_args"].get("max_lora_rank", 16)))
        return random_adapters(
            base, out, ["probe"], rank=rank, std=0.01, target_modules=("q_proj", "k_proj", "v_proj", "o_proj")
        )[0]

    async def llm_check(self) -> dict[str, Any]:
        from vllm.lora.request import LoRARequest

        from deployments.llm.engine import SamplingOptions, VLLMChatEngine, VLLMConfig

        config = VLLMConfig.from_dict(self.specs["llm"])
        resolve = get_settings().resolve_model_path
        self.llm = VLLMChatEngine(config, resolve_path=resolve)
        self.lora = LoRARequest(lora_name="probe", lora_int_id=1, lora_path=str(self._adapter(Path(resolve(config.path)))))
        out: dict[str, Any] = {"model": config.model_id}
        for label, lora in (("base", None), ("lora", self.lora)):
            ttft, rate = [], []
            for _ in range(self.args.trials):
                t0, first, n = time.perf_counter(), None, 0
                async for delta in self.llm.chat(
                    QUESTION, SamplingOptions(max_tokens=64, temperature=0.0), lora_request=lora
                ):
                    first = first or time.perf_counter() - t0
                    n = delta.completion_tokens or n
                ttft.append(first)
                rate.append(n / max(1e-6, time.perf_counter() - t0 - first))
            out[label] = {
                "ttft_ms_p50": round(statistics.median(ttft) * 1000, 1),
                "tokens_per_s_p50": round(statistics.median(rate), 1),
            }
        return out

    async def calls_check(self) -> dict[str, Any]:
        from deployments.llm.engine import SamplingOptions

        if not (self.stt and self.llm and self.tts):
            raise RuntimeError("needs the stt, tts and llm checks to have passed")
        clip, lang = self._clip()
        voice = self.specs["ingress"]["default_voice"]

        async def turn(i: int) -> float:
            t0 = time.perf_counter()
            text = (await asyncio.to_thread(self.stt.transcribe, clip, language=lang)).text
            reply = ""
            lora = self.lora if i % 2 else None  # half the calls on a persona adapter
            async for delta in self.llm.chat(
                [{"role": "user", "content": text or "Алло?"}],
                SamplingOptions(max_tokens=48, temperature=0.3),
                lora_request=lora,
            ):
                reply += delta.text
                if any(p in reply for p in ".!?"):
                    break
            async for _chunk in self.tts.stream(reply or "Да.", voice, 1.0, 16000):
                return time.perf_counter() - t0
            return time.perf_counter() - t0

        out = {}
        for n in self.args.calls:
            v2v = [x for _ in range(self.args.trials) for x in await asyncio.gather(*(turn(i) for i in range(n)))]
            out[str(n)] = {"v2v_ms_p50": round(statistics.median(v2v) * 1000, 1), "v2v_ms_p95": round(p95(v2v) * 1000, 1)}
        return {"concurrent_turns": out}


async def main(args: argparse.Namespace) -> int:
    specs = profile_specs(args.profile)
    only = args.only or list(CHECKS)
    report: dict[str, Any] = {"profile": str(args.profile), "plan": plan(specs, only)}
    if args.plan:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    r = Readiness(specs, args)
    steps = {"cuda": r.cuda, "tts": r.tts_check, "stt": r.stt_check, "llm": r.llm_check, "calls": r.calls_check}
    for name in ("cuda", "tts", "stt", "llm", "calls"):  # TTS first: its speech is STT's clip
        if name in only:
            await r.run(name, steps[name])
    r.report.get("tts", {}).pop("_clip", None)
    report["results"] = r.report
    failed = [k for k, v in r.report.items() if not v.get("ok")]
    report["failed"] = failed
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(json.dumps({"failed": failed}), flush=True)
    return len(failed)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", type=Path, default=PROJECT_ROOT / "serve_config.yaml")
    p.add_argument("--only", type=lambda s: s.split(","), help=f"comma-separated, of {','.join(CHECKS)}")
    p.add_argument("--calls", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4, 8, 16])
    p.add_argument("--trials", type=int, default=3)
    p.add_argument("--adapter", help="a persona's LoRA adapter directory (default: a random one for the model)")
    p.add_argument("--piper-voice", default="piper/en_US-joe-medium.onnx", help="a Piper voice for the CUDA check")
    p.add_argument("--out", type=Path)
    p.add_argument("--plan", action="store_true", help="print what would run and exit (no GPU needed)")
    args = p.parse_args(argv)
    unknown = set(args.only or ()) - set(CHECKS)
    if unknown:
        p.error(f"unknown checks {sorted(unknown)}; choose from {CHECKS}")
    return args


if __name__ == "__main__":
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    sys.exit(asyncio.run(main(parse_args())))
