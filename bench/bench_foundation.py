"""Foundation benchmark: model-stage speeds and the cost of going through Serve's HTTP ingress.

Not a test: run by hand (``make bench``) on an otherwise idle machine. It starts the CPU-profile
cluster and, in this process, the same engines the replicas host; then it alternates the same
request in-process and over HTTP, so both sides see the same machine state, and reports medians.

    .venv/bin/python bench/bench_foundation.py --out var/bench-foundation.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from cli.local_cluster import DEFAULT_PROFILE, LocalCluster
from deployments.llm.engine import SamplingOptions, VLLMChatEngine, VLLMConfig
from deployments.registry import STT_ENGINES, TTS_ENGINES, build_engine
from deployments.tts.service import SpeechService
from infra.audio import decode_audio, encode_audio
from infra.settings import get_settings

SPEECH = (
    "Good afternoon, you have reached the front desk. I can book an appointment, take a message, "
    "or tell you our opening hours. What would you like to do today?"
)
QUESTION = [{"role": "user", "content": "Write a short friendly greeting for a dental clinic's phone line."}]


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def fmt_ms(x: float) -> str:
    return f"{x * 1000:.0f} ms"


async def main(args: argparse.Namespace, profile_text: str) -> dict:
    spec = yaml.safe_load(profile_text)["applications"][0]["args"]
    results: dict = {"machine": f"{os.cpu_count()} cores", "trials": args.trials}

    cluster = LocalCluster(Path(args.profile))
    print("starting the CPU-profile cluster …", flush=True)
    results["cluster_start_s"] = round(cluster.start(), 1)
    try:
        print("loading the same engines in-process …", flush=True)
        stt = build_engine(STT_ENGINES, spec["stt"])
        tts = SpeechService(build_engine(TTS_ENGINES, spec["tts"]))
        llm = VLLMChatEngine(VLLMConfig.from_dict(spec["llm"]), resolve_path=get_settings().resolve_model_path)
        from cli.local_access import local_api_key_async

        http = httpx.AsyncClient(
            base_url=cluster.base_url, timeout=300, headers={"Authorization": f"Bearer {await local_api_key_async()}"}
        )
        model_id = spec["llm"]["model_id"]

        # A clip of known length for STT: Piper speech, as a WAV file.
        pcm, rate = await tts.synthesize(SPEECH, "joe")
        wav = encode_audio(np.frombuffer(pcm, "<i2"), rate, "wav")
        clip_s = len(pcm) / 2 / rate
        results["stt_clip_s"] = round(clip_s, 2)

        if args.llm_only:
            pcm = b""
        print("measuring STT …", flush=True)
        # --- STT real-time factor (in-process) and HTTP overhead -------------------------------
        for model, lang in () if args.llm_only else (("whisper-tiny.en", "en"), ("whisper-base", "en")):
            inproc, over_http = [], []
            for _ in range(args.trials):
                t0 = time.perf_counter()
                audio = decode_audio(wav, 16000)
                stt.transcribe(audio.samples, language=lang, model=model)
                inproc.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                r = await http.post(
                    "/v1/audio/transcriptions", files={"file": ("a.wav", wav)}, data={"model": model, "language": lang}
                )
                r.raise_for_status()
                over_http.append(time.perf_counter() - t0)
            results[f"stt_{model}"] = {
                "rtf": round(med(inproc) / clip_s, 3),
                "inproc_s": round(med(inproc), 3),
                "http_s": round(med(over_http), 3),
                "overhead_ms": round((med(over_http) - med(inproc)) * 1000, 1),
            }

        print("measuring TTS …", flush=True)
        # --- TTS time-to-first-audio and RTF ----------------------------------------------------
        ttfa, total, http_ttfa, http_total = [], [], [], []
        for _ in range(0 if args.llm_only else args.trials):
            t0 = time.perf_counter()
            first, n = None, 0
            async for chunk in tts.stream(SPEECH, "joe", 1.0, 24000):
                first = first or time.perf_counter() - t0
                n += len(chunk)
            ttfa.append(first)
            total.append(time.perf_counter() - t0)
            audio_s = n / 2 / 24000
            t0 = time.perf_counter()
            first = None
            async with http.stream(
                "POST",
                "/v1/audio/speech",
                json={"model": "tts-1", "voice": "joe", "input": SPEECH, "response_format": "pcm"},
            ) as r:
                async for _chunk in r.aiter_bytes():
                    first = first or time.perf_counter() - t0
            http_ttfa.append(first)
            http_total.append(time.perf_counter() - t0)
        results["tts_piper"] = (
            {}
            if args.llm_only
            else {
                "audio_s": round(audio_s, 2),
                "ttfa_s": round(med(ttfa), 3),
                "rtf": round(med(total) / audio_s, 3),
                "http_ttfa_s": round(med(http_ttfa), 3),
                "http_total_s": round(med(http_total), 3),
                "overhead_ms": round((med(http_total) - med(total)) * 1000, 1),
            }
        )

        # --- LLM tokens/s, single and 8 concurrent streams --------------------------------------
        opts = SamplingOptions(max_tokens=args.tokens, temperature=0.0, ignore_eos=True)

        async def inproc_one() -> tuple[float, int, float]:
            t0 = time.perf_counter()
            ttft, toks = None, 0
            async for d in llm.chat(QUESTION, opts):
                ttft = ttft or time.perf_counter() - t0
                toks = d.completion_tokens or toks
            return time.perf_counter() - t0, toks, ttft

        async def http_one() -> tuple[float, int, float]:
            t0 = time.perf_counter()
            ttft, toks = None, 0
            body = {
                "model": model_id,
                "messages": QUESTION,
                "max_tokens": args.tokens,
                "temperature": 0,
                "stream": True,
                "stream_options": {"include_usage": True},
                "ignore_eos": True,
            }
            async with http.stream("POST", "/v1/chat/completions", json=body) as r:
                async for line in r.aiter_lines():
                    if line.startswith("data: {"):
                        ev = json.loads(line[6:])
                        if ev["choices"] and ev["choices"][0]["delta"].get("content"):
                            ttft = ttft or time.perf_counter() - t0
                        if ev.get("usage"):
                            toks = ev["usage"]["completion_tokens"]
            return time.perf_counter() - t0, toks, ttft

        for label, conc in (("single", 1), ("concurrent8", 8)):
            rows = {"inproc": [], "http": []}
            for trial in range(args.trials):
                sides = [("inproc", inproc_one), ("http", http_one)]
                for side, fn in sides if trial % 2 == 0 else sides[::-1]:
                    # Both engines are bound to the same two cores; the one that just ran keeps its
                    # OpenMP threads spinning for a while. Let it go idle so neither side pays for it.
                    await asyncio.sleep(args.gap)
                    print(f"  llm {label} {side}", flush=True)
                    t0 = time.perf_counter()
                    outs = await asyncio.wait_for(asyncio.gather(*(fn() for _ in range(conc))), 120)
                    wall = time.perf_counter() - t0
                    rows[side].append((sum(o[1] for o in outs) / wall, med([o[2] for o in outs]), wall))
            results[f"llm_{label}"] = {
                side: {
                    "tokens_per_s": round(med([r[0] for r in v]), 1),
                    "ttft_s": round(med([r[1] for r in v]), 3),
                    "wall_s": round(med([r[2] for r in v]), 3),
                }
                for side, v in rows.items()
            }
            ip, hp = results[f"llm_{label}"]["inproc"], results[f"llm_{label}"]["http"]
            results[f"llm_{label}"]["overhead_pct"] = round((hp["wall_s"] / ip["wall_s"] - 1) * 100, 1)
            results[f"llm_{label}"]["overhead_ms"] = round((hp["wall_s"] - ip["wall_s"]) * 1000, 1)
        await http.aclose()
        llm.shutdown()
    finally:
        cluster.stop()
    return results


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--trials", type=int, default=7)
    p.add_argument("--tokens", type=int, default=64)
    p.add_argument("--llm-only", action="store_true", help="skip the STT and TTS measurements")
    p.add_argument("--profile", default=str(DEFAULT_PROFILE))
    p.add_argument("--gap", type=float, default=1.5, help="idle seconds before each LLM measurement")
    p.add_argument("--out", default="var/bench-foundation.json")
    a = p.parse_args()
    res = asyncio.run(main(a, Path(a.profile).read_text()))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))
