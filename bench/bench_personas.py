"""Persona adapters on the CPU profile's engine: the cost of LoRA and of hot-loading an adapter.

Not a test: run by hand on an otherwise idle machine (nothing else may use the cores). It builds
the LLM deployment's class in this process with the CPU profile's LLM block (SmolLM2-135M on
vLLM, the same engine arguments and adapter slots), makes random rank-8 adapters for it
(``provisioning/adapters.py``: the shape of a fine-tuned one, which is all speed depends on), and
measures, in interleaved rounds so every scenario sees the same machine state:

- ``base``: a batch of streams without an adapter;
- ``one-adapter``: the same batch, every stream on one adapter;
- ``four-adapters``: the same batch with four distinct adapters (one per stream);

for batch sizes 1 and 4: aggregate decode tokens/s and time to first token, medians, and the
ratio to ``base``. Then the hot-load: the first request on a new adapter version against the
next request on it (the difference is the load), and the engine's own add time.

    .venv/bin/python bench/bench_personas.py --rounds 5 --out var/bench-personas.json
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
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cli.local_cluster import DEFAULT_PROFILE
from infra.settings import get_settings

PROMPT = [
    {"role": "system", "content": "You are the secretary of a small dental clinic."},
    {"role": "user", "content": "Hello, can I book an appointment for a cleaning next week?"},
]


def options(max_tokens: int) -> dict:
    return {
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "top_p": 1.0,
        "stop": [],
        "seed": None,
        "presence_penalty": 0.0,
        "frequency_penalty": 0.0,
        "ignore_eos": True,
    }


async def one_stream(server, adapter: dict | None, max_tokens: int) -> tuple[float, float, int]:
    """(time to first token, end time, completion tokens), times from the batch's start."""
    t0 = time.perf_counter()
    first, tokens = None, 0
    async for d in server.chat(PROMPT, options(max_tokens), None, adapter):
        if first is None:
            first = time.perf_counter() - t0
        if d["finish_reason"]:
            tokens = d["completion_tokens"]
    return first, time.perf_counter() - t0, tokens


async def batch(server, adapters: list[dict | None], max_tokens: int) -> dict:
    t0 = time.perf_counter()
    results = await asyncio.gather(*(one_stream(server, a, max_tokens) for a in adapters))
    wall = time.perf_counter() - t0
    return {"tok_s": sum(r[2] for r in results) / wall, "ttft_s": statistics.median(r[0] for r in results)}


async def main(args: argparse.Namespace, profile_text: str) -> dict:
    from deployments.llm.deployment import LLMServer
    from provisioning.adapters import random_adapters

    spec = yaml.safe_load(profile_text)["applications"][0]["args"]["llm"]
    out_dir = Path(tempfile.mkdtemp(prefix="bench-adapters-"))
    base = get_settings().resolve_model_path(spec["path"])
    names = [f"a{i}" for i in range(4 + args.hot_loads)]
    paths = random_adapters(base, out_dir, names, rank=8, std=0.03)
    adapters = [{"name": n, "version": 1, "path": str(p)} for n, p in zip(names, paths, strict=True)]

    server = LLMServer.func_or_class(spec)
    results: dict = {
        "machine": f"{os.cpu_count()} cores",
        "rounds": args.rounds,
        "max_tokens": args.max_tokens,
        "max_adapters": server.config.max_adapters,
        "engine_lora_slots": server.config.resolved_engine_args().get("max_loras"),
    }
    try:
        for a in adapters[:4]:  # resident before measuring: this part is about decoding, not loading
            await one_stream(server, a, 4)
        await one_stream(server, None, 16)
        for size in (1, 4):
            scenarios = {
                "base": [None] * size,
                "one-adapter": [adapters[0]] * size,
                "four-adapters": [adapters[i % 4] for i in range(size)] if size > 1 else None,
            }
            samples: dict[str, list[dict]] = {k: [] for k, v in scenarios.items() if v is not None}
            for r in range(args.rounds):
                order = list(samples)
                if r % 2:
                    order.reverse()
                for name in order:
                    samples[name].append(await batch(server, scenarios[name], args.max_tokens))
            row = {}
            for name, xs in samples.items():
                row[name] = {
                    "tok_s": round(statistics.median(x["tok_s"] for x in xs), 1),
                    "ttft_ms": round(1000 * statistics.median(x["ttft_s"] for x in xs), 1),
                }
            for name in row:
                row[name]["tok_s_vs_base"] = round(row[name]["tok_s"] / row["base"]["tok_s"], 3)
            results[f"batch_{size}"] = row
            print(f"batch {size}: {json.dumps(row)}", flush=True)

        # Hot-load: a new adapter version's first request vs its second.
        cold, warm, loads = [], [], []
        for a in adapters[4:]:
            fresh = {**a, "version": 2}
            t0 = time.perf_counter()
            await server._adapter(fresh)  # what the first request does before generating
            loads.append(time.perf_counter() - t0)
            c, _, _ = await one_stream(server, {**a, "version": 3}, 8)
            w, _, _ = await one_stream(server, {**a, "version": 3}, 8)
            cold.append(c)
            warm.append(w)
        results["hot_load"] = {
            "adapter_load_ms_median": round(1000 * statistics.median(loads), 1),
            "first_request_ttft_ms_median": round(1000 * statistics.median(cold), 1),
            "warm_request_ttft_ms_median": round(1000 * statistics.median(warm), 1),
            "samples": len(cold),
        }
        print(f"hot load: {json.dumps(results['hot_load'])}", flush=True)
    finally:
        server.engine.shutdown()
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default=str(DEFAULT_PROFILE))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--hot-loads", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    res = asyncio.run(main(args, Path(args.profile).read_text()))
    print(json.dumps(res, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(res, indent=2))
