"""``make demo``: the CPU-profile cluster answers a simulated phone call, then everything stops.

1. start the modem simulator (the SIM7600 on pseudo-terminals) and the cluster, whose modem
   ingress actor connects to it;
2. the web console answers at /console; a quick look at the OpenAI-compatible API (models, one
   streamed chat answer);
3. a caller phones the secretary: the caller's lines are synthesised by the cluster's own TTS,
   played into the simulated line in real time, and the secretary's voice is recorded at the
   modem; the demo prints the conversation and per-turn latency from the call record;
4. the cluster and the simulator stop.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import httpx
import numpy as np
from openai import OpenAI

from cli.local_cluster import DEFAULT_MODEM_DIR, ClusterStartError, LocalCluster
from infra.audio import decode_audio, float_to_pcm16, wav_bytes
from infra.settings import PROJECT_ROOT
from telephony.simulator.modem import SimConfig
from telephony.simulator.thread import SimulatorThread

CALLER_NUMBER = "+79161234567"
CALLER_LINES = [(5.0, "Hello! What are your opening hours?"), (16.0, "Thank you very much. Goodbye.")]
CALL_SECONDS = 40.0


def _say(msg: str = "") -> None:
    print(msg, flush=True)


def caller_audio(client: OpenAI) -> bytes:
    """The caller's side: each line at its time, 8 kHz S16LE, voiced by the cluster's TTS."""
    out = np.zeros(int(CALL_SECONDS * 8000), dtype=np.float32)
    for at_s, text in CALLER_LINES:
        wav = client.audio.speech.create(model="tts-1", voice="alloy", input=text, response_format="wav").content
        voice = decode_audio(wav, 8000).samples * 0.8
        start = int(at_s * 8000)
        out[start : start + len(voice)] = voice[: len(out) - start]
    return float_to_pcm16(out).tobytes()


def wait_for_modem(admin: httpx.Client, within_s: float = 120.0) -> None:
    deadline = time.monotonic() + within_s
    last = ""
    while time.monotonic() < deadline:
        try:
            r = admin.get("/modem/status")
            if r.status_code == 200 and r.json()["ingress"]["modem"] == "ready":
                modem = r.json()["modem"]
                _say(f"modem ready: {modem['operator']}, signal {modem['signal_dbm']} dBm ({modem['signal_quality']})")
                return
            last = r.text
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(1.0)
    raise RuntimeError(f"the modem ingress did not come up: {last}")


def wait_for_call(admin: httpx.Client, before: set[str], within_s: float = 120.0) -> dict:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        for call in admin.get("/calls", params={"limit": 5}).json()["items"]:
            if call["id"] not in before and call["status"] == "ended":
                return call
        time.sleep(0.5)
    raise RuntimeError("the call did not finish in time")


def print_call(call: dict) -> None:
    _say(
        f"\ncall {call['id'][:8]}: {call['direction']} from {call['number']}, {call['duration_s']} s, "
        f"ended: {call['end_reason']}"
    )
    for turn in call["transcript"]:
        who = "caller" if turn["speaker"] == "caller" else (call["persona"] or "assistant")
        _say(f"  [{turn['at_s']:5.1f} s] {who:>9}: {turn['text']}")
        t = turn.get("timings_ms") or {}
        if turn["speaker"] == "caller" and "first_frame" in t:
            _say(
                f"{'':22}voice-to-voice {t['first_frame']:.0f} ms after the end of the turn "
                f"(transcript {t.get('transcript', 0):.0f}, first token {t.get('first_token', 0):.0f}, "
                f"first audio {t.get('first_audio', 0):.0f} ms)"
            )


def run_demo() -> int:
    token = secrets.token_urlsafe(24)
    sim = SimulatorThread(DEFAULT_MODEM_DIR, SimConfig(ring_period_s=1.0)).start()
    cluster = LocalCluster(env={"SECRETARY_ADMIN_TOKEN": token})
    _say("== secretary demo (CPU profile) ==")
    _say(f"modem simulator: AT {sim.modem.at_path}, audio {sim.modem.audio_path}")
    try:
        try:
            started = cluster.start(progress=_say)
        except ClusterStartError as exc:
            _say(f"\nthe cluster did not start: {exc}")
            return 1
        _say(f"cluster ready in {started:.1f} s; API at {cluster.base_url}/v1, admin at {cluster.base_url}/admin")
        page = httpx.get(f"{cluster.base_url}/console/", timeout=30)
        if page.status_code != 200 or "static/js/app.js" not in page.text:
            _say(f"the console did not answer: HTTP {page.status_code}")
            return 1
        _say(f"web console at {cluster.base_url}/console (keep it running with `secretary serve`)")
        from cli.local_access import local_api_key

        client = OpenAI(base_url=f"{cluster.base_url}/v1", api_key=local_api_key())
        models = client.models.list()
        _say("models: " + ", ".join(m.id for m in models.data))
        chat = next(m for m in models.data if getattr(m, "kind", "chat") == "chat")
        chat_model = chat.id
        if getattr(chat, "kernel", None):
            _say(f"LLM {chat_model}: {chat.kernel} kernels{' (fallback checkpoint)' if chat.fallback else ''}")
        t0 = time.monotonic()
        reply = client.chat.completions.create(
            model=chat_model,
            messages=[{"role": "user", "content": "In one sentence, what does a phone secretary do?"}],
            max_tokens=40,
            temperature=0,
        )
        _say(f"chat ({time.monotonic() - t0:.2f} s): {reply.choices[0].message.content.strip()}")

        with httpx.Client(
            base_url=f"{cluster.base_url}/admin", headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as admin:
            wait_for_modem(admin)
            audio = caller_audio(client)
            before = {c["id"] for c in admin.get("/calls", params={"limit": 100}).json()["items"]}
            _say(f"\n{CALLER_NUMBER} is calling …")
            sim.call(sim.modem.incoming_call, CALLER_NUMBER, audio)
            call = wait_for_call(admin, before)
            print_call(call)
        uplink = np.frombuffer(bytes(sim.modem.uplink), "<i2")
        out = PROJECT_ROOT / "var" / "demo" / "call-uplink.wav"
        out.parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_bytes(wav_bytes(uplink, 8000))
        _say(
            f"\nwhat the caller heard: {out.relative_to(PROJECT_ROOT)} ({len(uplink) / 8000:.1f} s, "
            f"{sim.modem.uplink_underruns} uplink underruns)"
        )
    finally:
        _say("\nstopping the cluster …")
        cluster.stop()
        sim.stop()
    _say("done.")
    return 0
