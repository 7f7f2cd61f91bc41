"""Autoscaling you can see: N concurrent simulated calls over the WebSocket, replica counts over time.

    python bench/bench_autoscale.py --calls 6 --load-s 150 --cooldown-s 150 --out var/bench-autoscale.json

Starts the CPU-profile cluster (two Ray nodes, as the tests run it: the head and the office
machine with the modem), then:

1. idle for ``--idle-s``: the minimum replicas;
2. load for ``--load-s``: ``--calls`` callers, each placing one call after another (a greeting,
   a question in Piper's voice, the answer, a goodbye), all over ``WS /v1/calls/stream``;
3. cool down for ``--cooldown-s`` with no calls: Serve scales back in.

Every ``--every-s`` the running replicas of each deployment are read from the dashboard's Serve
API. The output is that timeline, each call's outcome (a call fails if it errors, or ends without
the assistant answering) and a summary: replicas at rest, at the peak, and after the cool-down.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from bench.caller_voice import piper_line
from cli.local_cluster import LocalCluster
from cli.local_nodes import modem_node

DASHBOARD = "http://127.0.0.1:8265"
QUESTIONS = [
    "What time do you open on Saturday?",
    "Do you have a table for four tonight?",
    "How much does a consultation cost?",
    "Can I park near your office?",
]


def replicas() -> dict[str, int]:
    """Running replicas per deployment, from the dashboard's Serve API."""
    apps = httpx.get(f"{DASHBOARD}/api/serve/applications/", timeout=10).json()["applications"]
    out = {}
    for app in apps.values():
        for name, d in app["deployments"].items():
            out[name] = sum(1 for r in d.get("replicas", []) if r.get("state") == "RUNNING")
    return out


async def one_call(url: str, script: bytes) -> dict:
    t0 = time.monotonic()
    turns, reason = [], None
    try:
        async with websockets.connect(url, max_size=None) as ws:
            assert json.loads(await ws.recv())["type"] == "session.started"

            async def read():
                nonlocal turns, reason
                async for message in ws:
                    if isinstance(message, str):
                        event = json.loads(message)
                        if event["type"] == "call.ended":
                            reason, turns = event["reason"], event["record"]["turns"]

            reader = asyncio.create_task(read())
            loop = asyncio.get_running_loop()
            tick = loop.time()
            for i in range(0, len(script), 320):
                await ws.send(script[i : i + 320])
                tick += 0.02
                await asyncio.sleep(max(0.0, tick - loop.time()))
            await ws.send(json.dumps({"type": "hangup"}))
            await asyncio.wait_for(reader, 30)
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}", "s": round(time.monotonic() - t0, 1)}
    answered = sum(1 for t in turns[1:] if t.get("speaker") == "assistant")
    # Over when the caller hung up, or when the secretary heard the goodbye and ended it herself.
    ok = reason in ("client_hangup", "caller_goodbye") and answered >= 1
    return {"ok": ok, "reason": reason, "answers": answered, "s": round(time.monotonic() - t0, 1)}


async def main(args: argparse.Namespace) -> dict:
    from cli.local_access import local_api_key_async

    cluster = LocalCluster(worker_nodes=[modem_node("office")])
    print("starting the CPU-profile cluster (head + office node) …", flush=True)
    started = cluster.start(timeout_s=600)
    timeline: list[dict] = []
    calls: list[dict] = []
    t_start = time.monotonic()
    phase = "idle"
    stop = asyncio.Event()

    async def sample() -> None:
        while not stop.is_set():
            try:
                counts = await asyncio.to_thread(replicas)
            except httpx.HTTPError:
                counts = {}
            active = sum(1 for c in calls if "ok" not in c)
            timeline.append({"t": round(time.monotonic() - t_start, 1), "phase": phase, "calls": active, **counts})
            print(json.dumps(timeline[-1]), flush=True)
            await asyncio.sleep(args.every_s)

    try:
        key = await local_api_key_async()
        base = cluster.base_url.replace("http://", "ws://") + f"/v1/calls/stream?sample_rate=8000&persona=anna&api_key={key}"
        scripts = []
        for q in QUESTIONS:
            words, bye = await piper_line(q), await piper_line("Thank you, goodbye.")
            scripts.append(b"\x00" * 16000 * 6 + words + b"\x00" * 16000 * 8 + bye + b"\x00" * 16000 * 2)
        sampler = asyncio.create_task(sample())
        await asyncio.sleep(args.idle_s)
        phase = "load"
        load_ends = time.monotonic() + args.load_s

        async def caller(i: int) -> None:
            n = 0
            while time.monotonic() < load_ends:
                entry: dict = {"caller": i, "start": round(time.monotonic() - t_start, 1)}
                calls.append(entry)
                number = f"%2B7903777{1000 + i * 100 + n}"
                entry.update(await one_call(f"{base}&caller={number}", scripts[(i + n) % len(scripts)]))
                n += 1

        await asyncio.gather(*(caller(i) for i in range(args.calls)))
        phase = "cooldown"
        await asyncio.sleep(args.cooldown_s)
        stop.set()
        await sampler
    finally:
        stop.set()
        cluster.stop()

    deployments = sorted({k for row in timeline for k in row if k not in ("t", "phase", "calls")})
    summary = {}
    for d in deployments:
        by_phase = {p: [row.get(d, 0) for row in timeline if row["phase"] == p] for p in ("idle", "load", "cooldown")}
        summary[d] = {
            "idle": max(by_phase["idle"] or [0]),
            "peak_in_load": max(by_phase["load"] or [0]),
            "end_of_cooldown": by_phase["cooldown"][-1] if by_phase["cooldown"] else None,
        }
    failed = [c for c in calls if not c.get("ok")]
    result = {
        "cluster_start_s": round(started, 1),
        "calls_concurrent": args.calls,
        "calls_total": len(calls),
        "calls_failed": len(failed),
        "failures": failed,
        "summary": summary,
        "timeline": timeline,
        "calls": calls,
    }
    return result


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=6, help="concurrent callers during the load")
    p.add_argument("--idle-s", type=float, default=20)
    p.add_argument("--load-s", type=float, default=150)
    p.add_argument("--cooldown-s", type=float, default=150)
    p.add_argument("--every-s", type=float, default=5)
    p.add_argument("--out", type=Path, default=Path("var/bench-autoscale.json"))
    args = p.parse_args()
    out = asyncio.run(main(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    print(json.dumps({k: out[k] for k in ("calls_total", "calls_failed", "summary")}, indent=2))
