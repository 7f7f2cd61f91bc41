"""Phone calls through the simulated modem: a 60 s call at real time, and modem vs WebSocket latency.

Not a test: run by hand on an otherwise idle machine. Starts the CPU-profile cluster and the
SIM7600 simulator (in this process, on its own thread), then

1. a 60 s call with four questions: uplink underruns as the modem counts them (a tick with no
   frame from us), downlink bytes we failed to read, the call's end reason;
2. voice-to-voice latency, modem and WebSocket paths interleaved in the same run with the same
   questions: from the caller's last voiced frame to the first audible reply frame the caller
   receives. On the modem path both are read off the modem's own 20 ms clock (downlink and
   uplink are aligned by ``uplink_marks``); the WebSocket client measures on its wall clock.

    .venv/bin/python bench/bench_modem_call.py --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from bench.bench_voice import QUESTIONS, last_voiced_frame, one_call, pct, speech
from cli.demo import wait_for_call
from cli.local_cluster import DEFAULT_MODEM_DIR, LocalCluster
from telephony.simulator.modem import SimConfig
from telephony.simulator.thread import SimulatorThread

GREETING_S = 10.0  # a stranger's greeting also asks for their name and reason (screening/front_door.py)
ANSWER_S = 8.0


def known(admin: httpx.Client) -> set[str]:
    return {c["id"] for c in admin.get("/calls", params={"limit": 100}).json()["items"]}


def modem_call(sim: SimulatorThread, admin: httpx.Client, script: bytes, hang_up_after_s: float) -> dict:
    before = known(admin)
    marks0 = len(sim.modem.uplink_marks)
    sim.call(sim.modem.incoming_call, "+79161234567", script)
    deadline = time.monotonic() + 30
    while len(sim.modem.uplink_marks) == marks0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(hang_up_after_s)
    sim.call(sim.modem.remote_hang_up)
    return wait_for_call(admin, before)


def modem_latency(sim: SimulatorThread, admin: httpx.Client, question: str) -> dict:
    q = speech(question)
    script = b"\x00" * int(GREETING_S * 16000) + q + b"\x00" * int(ANSWER_S * 16000)
    end_frame = int(GREETING_S * 50) + last_voiced_frame(q)
    record = modem_call(sim, admin, script, GREETING_S + len(q) / 16000 + ANSWER_S)
    up0, down0 = sim.modem.uplink_marks[-1]
    up = np.frombuffer(bytes(sim.modem.uplink), "<i2")
    start = up0 + (end_frame - down0)  # the uplink frame heard while the caller's last voiced frame played
    v2v = None
    for i in range(start + 1, len(up) // 160):
        if np.abs(up[i * 160 : (i + 1) * 160]).max() > 500:
            v2v = (i - start) * 0.02
            break
    caller = next((t for t in record["transcript"] if t["speaker"] == "caller"), None)
    return {
        "v2v_s": v2v,
        "timings_ms": caller["timings_ms"] if caller else {},
        "transcript": caller["text"] if caller else "",
    }


def long_call(sim: SimulatorThread, admin: httpx.Client, seconds: float = 60.0) -> dict:
    parts = [speech(q) for q in QUESTIONS]
    script = bytearray(int(seconds * 16000))
    for i, q in enumerate(parts):
        at = int((5 + i * 14) * 16000)
        script[at : at + len(q)] = q
    underruns0, dropped0, late0 = (sim.modem.uplink_underruns, sim.modem.downlink_dropped_bytes, sim.modem.clock_late_ticks)
    t0 = time.monotonic()
    record = modem_call(sim, admin, bytes(script), seconds)
    return {
        "call_s": round(time.monotonic() - t0, 1),
        "end_reason": record["end_reason"],
        "turns": len(record["transcript"]),
        "barge_ins": record["barge_ins"],
        "uplink_underruns": sim.modem.uplink_underruns - underruns0,
        "downlink_dropped_bytes": sim.modem.downlink_dropped_bytes - dropped0,
        "simulator_late_ticks": sim.modem.clock_late_ticks - late0,
    }


def summary(rows: list[dict]) -> dict:
    v2v = [r["v2v_s"] for r in rows if r["v2v_s"] is not None]
    stages = {
        k: statistics.median([r["timings_ms"][k] for r in rows if k in r["timings_ms"]] or [float("nan")])
        for k in ("transcript", "first_token", "first_audio", "first_frame")
    }
    return {
        "answered": f"{len(v2v)}/{len(rows)}",
        "v2v_p50_ms": round(pct(v2v, 50) * 1000),
        "v2v_p95_ms": round(pct(v2v, 95) * 1000),
        "stages_median_ms_from_end_of_speech": stages,
    }


async def ws_latency(url: str, question: str) -> dict:
    return await one_call(url, question, GREETING_S, ANSWER_S)


def main(args) -> dict:
    token = secrets.token_urlsafe(16)
    sim = SimulatorThread(DEFAULT_MODEM_DIR, SimConfig(ring_period_s=0.5)).start()
    cluster = LocalCluster(env={"SECRETARY_ADMIN_TOKEN": token})
    print("starting the CPU-profile cluster …", flush=True)
    cluster.start()
    url = cluster.base_url.replace("http://", "ws://") + "/v1/calls/stream?sample_rate=8000&language=en"
    from cli.local_access import local_api_key

    url += f"&api_key={local_api_key()}"
    results: dict = {"rounds": args.rounds}
    try:
        with httpx.Client(
            base_url=f"{cluster.base_url}/admin", headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as admin:
            deadline = time.monotonic() + 120
            while admin.get("/modem/status").json()["ingress"].get("modem") != "ready":
                if time.monotonic() > deadline:
                    raise RuntimeError("modem ingress not ready")
                time.sleep(1)
            modem_latency(sim, admin, "Hello?")  # warm-up
            asyncio.run(ws_latency(url, "Hello?"))
            results["long_call"] = long_call(sim, admin, args.seconds)
            print(json.dumps(results["long_call"]), flush=True)
            modem_rows, ws_rows = [], []
            for r in range(args.rounds):
                question = QUESTIONS[r % len(QUESTIONS)]
                modem_rows.append(modem_latency(sim, admin, question))
                ws_rows.append(asyncio.run(ws_latency(url, question)))
                print(f"  round {r + 1}: modem {modem_rows[-1]['v2v_s']}, websocket {ws_rows[-1]['v2v_s']}", flush=True)
            results["modem"], results["websocket"] = summary(modem_rows), summary(ws_rows)
            pairs = [
                (m["v2v_s"], w["v2v_s"])
                for m, w in zip(modem_rows, ws_rows, strict=True)
                if m["v2v_s"] is not None and w["v2v_s"] is not None
            ]
            results["modem_minus_websocket_median_ms"] = round(statistics.median([m - w for m, w in pairs]) * 1000)
            print(json.dumps({k: results[k] for k in ("modem", "websocket", "modem_minus_websocket_median_ms")}), flush=True)
    finally:
        cluster.stop()
        sim.stop()
    return results


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--out", default="var/bench-modem.json")
    a = p.parse_args()
    res = main(a)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))
