"""Voice-to-voice latency over the WebSocket call path: caller's end of speech -> first reply audio.

Not a test: run by hand on an otherwise idle machine. Starts the CPU-profile cluster, then runs
calls with 1 and then N concurrent callers. Each caller waits out the greeting, asks one question
(espeak, 8 kHz, sent in real time), and keeps the line open with silence. The client measures
from the last voiced frame it sent to the first non-silent reply frame it receives (20 ms
resolution, as on a phone line); the server's call record gives the stage breakdown.

    .venv/bin/python bench/bench_voice.py --calls 1 4 --rounds 8
    .venv/bin/python bench/bench_voice.py --calls 1 4 --rounds 8 --persona anna   # its prompt and FAQ
    .venv/bin/python bench/bench_voice.py --ab-first-chunk phrase clause --rounds 8   # A/B, side by side
    .venv/bin/python bench/bench_voice.py --ab-playout --calls 4 --rounds 4   # A/B, four calls at a time
    .venv/bin/python bench/bench_voice.py --ab-chunks --calls 4 --rounds 8   # growing chunks or sentences
    .venv/bin/python bench/bench_voice.py --ab-stt-model whisper-base whisper-tiny.en --calls 1 --rounds 6
    .venv/bin/python bench/bench_voice.py --language ru --calls 1 --rounds 8   # Festival callers, persona marina
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from cli.local_cluster import LocalCluster
from infra.audio import decode_audio, float_to_pcm16

STAGES = ("transcript", "first_token", "first_chunk", "first_audio", "first_frame")
QUESTIONS = [
    "What time do you open tomorrow?",
    "Can I book an appointment for Friday?",
    "Where is your office?",
    "Do you have parking?",
]
QUESTIONS_RU = [
    "Во сколько вы завтра открываетесь?",
    "Можно записаться к врачу на пятницу?",
    "Сколько стоит чистка зубов?",
    "У вас есть парковка?",
]
FRAME = 320


def speech(text: str) -> bytes:
    """The caller's question: espeak for English, Festival's Russian voice for Russian (Cyrillic)."""
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "q.wav"
        if any("а" <= c.lower() <= "я" for c in text):
            src = Path(d) / "q.txt"
            src.write_text(text, encoding="utf-8")
            subprocess.run(
                ["text2wave", "-eval", "(voice_msu_ru_nsh_clunits)", str(src), "-o", str(out)],
                check=True,
                capture_output=True,
            )
        else:
            subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(out), text], check=True)
        return float_to_pcm16(decode_audio(out.read_bytes(), 8000).samples).tobytes()


def last_voiced_frame(pcm: bytes) -> int:
    x = np.frombuffer(pcm, "<i2").astype(np.float64)
    frames = len(x) // 160
    levels = [np.sqrt(np.mean(x[i * 160 : (i + 1) * 160] ** 2)) for i in range(frames)]
    return max(i for i, v in enumerate(levels) if v > 300)


PACKET_FRAMES = [1]  # 20 ms frames per WebSocket message the callers send (--packet-ms)


def set_packet_ms(value: str) -> None:
    """The callers' packet length: ``--packet-ms``, and the A/B of ``--ab-packet-ms``."""
    if int(value) % 20 or int(value) <= 0:
        raise ValueError("packet length must be a positive multiple of 20 ms")
    PACKET_FRAMES[0] = int(value) // 20


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) if xs else float("nan")


async def one_call(url: str, question: str, greeting_s: float = 7.0, answer_s: float = 8.0) -> dict:
    q = speech(question)
    last = last_voiced_frame(q)
    script = b"\x00" * int(greeting_s * 16000) + q + b"\x00" * int(answer_s * 16000)
    end_frame = int(greeting_s * 50) + last
    sent_end_at = None
    first_reply_at = None
    greeting_at = None  # the first sound of the greeting, from the session's start
    underruns_gap = 0
    events: list[dict] = []
    async with websockets.connect(url, max_size=None) as ws:
        await ws.recv()
        loop = asyncio.get_running_loop()
        started_at = loop.time()
        done = asyncio.Event()

        async def receive():
            nonlocal first_reply_at, greeting_at
            async for message in ws:
                if isinstance(message, bytes):
                    if greeting_at is None and np.abs(np.frombuffer(message, "<i2")).max() > 500:
                        greeting_at = loop.time() - started_at
                    if sent_end_at is not None and first_reply_at is None:
                        loud = np.flatnonzero(np.abs(np.frombuffer(message, "<i2")) > 500)
                        if loud.size:  # a message of several frames plays them one after another
                            first_reply_at = loop.time() + (int(loud[0]) // (FRAME // 2)) * 0.02
                else:
                    events.append(json.loads(message))
            done.set()

        task = asyncio.create_task(receive())
        next_tick = loop.time()
        packet = FRAME * PACKET_FRAMES[0]
        for i in range(0, len(script), packet):
            await ws.send(script[i : i + packet])
            first, last = i // FRAME, (i + packet) // FRAME - 1
            if first <= end_frame <= last:
                # A packet leaves once its last frame has been heard: the caller stopped speaking
                # that many frames before this send.
                sent_end_at = loop.time() - (last - end_frame) * 0.02
            next_tick += 0.02 * PACKET_FRAMES[0]
            delay = next_tick - loop.time()
            if delay < -0.04:
                underruns_gap += 1  # this client could not keep real time
            await asyncio.sleep(max(0.0, delay))
        await ws.send(json.dumps({"type": "hangup"}))
        await asyncio.wait_for(done.wait(), 30)
        task.cancel()
    record = next(e for e in events if e["type"] == "call.ended")["record"]
    caller = next((t for t in record["turns"] if t["speaker"] == "caller"), None)
    return {
        "v2v_s": (first_reply_at - sent_end_at) if first_reply_at and sent_end_at else None,
        "timings_ms": caller["timings_ms"] if caller else {},
        "greeting_s": greeting_at,
        "eot_s": (caller["detected_s"] - caller["ended_s"]) if caller else None,
        "client_late_ticks": underruns_gap,
        "transcript": caller["text"] if caller else "",
        "reply_gaps": record.get("reply_gaps", 0),
        "reply_gap_ms": record.get("reply_gap_ms", 0),
        # which replies the silences were in: the greeting (fixed lines) or the answer
        "gap_ms_by_reply": [t.get("gap_ms", 0) for t in record["turns"] if t["speaker"] == "assistant"],
        # where the answer ran dry: [ms played before, ms silent] per silence, and its chunks' ms
        "answer_gaps": next((t.get("gaps", []) for t in record["turns"][2:] if t["speaker"] == "assistant"), []),
        "answer_chunk_ms": next((t.get("chunk_ms", []) for t in record["turns"][2:] if t["speaker"] == "assistant"), []),
        "answer_chunk_chars": next(
            (t.get("chunk_chars", []) for t in record["turns"][2:] if t["speaker"] == "assistant"), []
        ),
        # how long the playout gate held the answer's first chunk, and what let it play
        "answer_hold": next(
            ([t.get("hold_ms", 0), t.get("hold_end")] for t in record["turns"][2:] if t["speaker"] == "assistant"), None
        ),
        # chunks cut before their sentence ended because the answer's queued audio ran low
        "forced_cuts": sum(t.get("forced_cuts", 0) for t in record["turns"] if t["speaker"] == "assistant"),
        "reply_chars": [len(t["text"]) for t in record["turns"] if t["speaker"] == "assistant"][1:],
        "reply": next((t["text"] for t in record["turns"][2:] if t["speaker"] == "assistant"), ""),
    }


def chunk_texts(reply: str, chars: list[int]) -> list[str]:
    """The reply cut back into the chunks it was spoken in (the record joins them with spaces)."""
    out, at = [], 0
    for n in chars:
        out.append(reply[at : at + n])
        at += n + 1
    return out


def first_chunk(row: dict) -> str:
    """The text a reply's first frame waited for: its first chunk."""
    return next(iter(chunk_texts(row["reply"], row["answer_chunk_chars"])), "")


# Each replica group's processes, by what their command lines say (the LLM's vLLM processes too).
GROUPS = {
    "llm": lambda line: "VLLM::" in line or ("ServeReplica" in line and "LLM" in line),
    "stt": lambda line: "ServeReplica" in line and "STTServer" in line,
    "tts": lambda line: "ServeReplica" in line and "TTSServer" in line,
}


def group_processes(*groups: str) -> list:
    """The processes of the named replica groups (``GROUPS``)."""
    import psutil

    found = []
    for p in psutil.process_iter(["cmdline"]):
        line = " ".join(p.info["cmdline"] or [])
        if any(GROUPS[g](line) for g in groups):
            found.append(p)
    return found


def llm_processes() -> list:
    """The LLM replica's processes: the Serve replica and vLLM's engine core and worker."""
    return group_processes("llm")


def renicer(groups: list[str]):
    """Set the groups' niceness (root may lower it again): the A/B of ``--ab-nice``."""

    def renice(value: str) -> None:
        procs = group_processes(*groups)
        if not procs:
            raise RuntimeError(f"no {'/'.join(groups)} replica processes found")
        for p in procs:
            for t in p.threads():  # niceness is per thread on Linux: OpenMP's and onnxruntime's workers too
                os.setpriority(os.PRIO_PROCESS, t.id, int(value))

    return renice


_AFFINITY: dict[int, set[int]] = {}  # each cluster thread's CPUs as first seen, to restore for "shared"


def split_cores(value: str) -> None:
    """``--ab-cores``: "split" gives the LLM's processes core 1 and every other cluster process core 0;
    "shared" puts back what each thread had (the LLM's OpenMP thread stays where vLLM bound it)."""
    import psutil

    llm = {p.pid for p in llm_processes()}
    first, every_cpu = not _AFFINITY, os.sched_getaffinity(0)
    for p in psutil.process_iter(["cmdline"]):
        line = " ".join(p.info["cmdline"] or [])
        if not any(k in line for k in ("ray::", "VLLM::", "raylet", "gcs_server", "serve run", "redis-server")):
            continue
        try:
            for t in p.threads():
                # First seen before any change: its own placement. Started since: all CPUs, as it
                # would have had under the profile (a thread inherits its creator's affinity).
                _AFFINITY.setdefault(t.id, os.sched_getaffinity(t.id) if first else every_cpu)
                os.sched_setaffinity(t.id, ({1} if p.pid in llm else {0}) if value == "split" else _AFFINITY[t.id])
        except (psutil.Error, OSError):
            continue  # a thread or process that ended meanwhile


async def ab(url: str, rounds: int, param: str | None, a: str, b: str, apply=None, calls: int = 1) -> dict:
    """``calls`` at a time, alternating ``param=a`` and ``param=b`` (the order flips every round), same questions.

    With ``apply``, the variant is set by ``apply(value)`` before each call instead of a URL parameter.
    """
    rows: dict[str, list[dict]] = {a: [], b: []}
    for r in range(rounds):
        for value in (a, b) if r % 2 == 0 else (b, a):
            if apply is not None:
                apply(value)
            batch = await asyncio.gather(
                *(
                    one_call(f"{url}&{param}={value}" if param else url, QUESTIONS[(r + i) % len(QUESTIONS)])
                    for i in range(calls)
                )
            )
            rows[value] += batch
            print(
                f"  round {r + 1} {param or 'variant'}={value}: {[row['v2v_s'] for row in batch]} "
                f"gaps {[row['gap_ms_by_reply'] for row in batch]} chars {[row['reply_chars'] for row in batch]} "
                f"stages {[[round(row['timings_ms'].get(k, 0)) for k in STAGES] for row in batch]} "
                f"first chunks {[first_chunk(row) for row in batch]}",
                flush=True,
            )
            for row in batch:
                if row["answer_gaps"]:
                    print(
                        f"    {param or 'variant'}={value} answer ran dry {row['answer_gaps']} "
                        f"(chunks ms {row['answer_chunk_ms']})",
                        flush=True,
                    )
    out = {}
    for value, xs in rows.items():
        v2v = [x["v2v_s"] for x in xs if x["v2v_s"] is not None]
        out[value] = {
            "v2v_p50_ms": round(pct(v2v, 50) * 1000),
            "v2v_p95_ms": round(pct(v2v, 95) * 1000),
            "stages_median_ms_from_end_of_speech": {
                k: statistics.median([x["timings_ms"][k] for x in xs if k in x["timings_ms"]]) for k in STAGES
            },
            "calls_with_reply_gaps": f"{sum(1 for x in xs if x['reply_gaps'])}/{len(xs)}",
            "forced_cuts": sum(x["forced_cuts"] for x in xs),
            "reply_gap_ms": sum(x["reply_gap_ms"] for x in xs),
        }
    pairs = [(x["v2v_s"], y["v2v_s"]) for x, y in zip(rows[a], rows[b], strict=True) if x["v2v_s"] and y["v2v_s"]]
    out[f"{a}_minus_{b}_median_ms"] = round(statistics.median([x - y for x, y in pairs]) * 1000)
    print(json.dumps(out), flush=True)
    return out


async def main(args) -> dict:
    cluster = LocalCluster(args.profile) if args.profile else LocalCluster()
    print(f"starting the {args.profile or 'CPU-profile'} cluster …", flush=True)
    cluster.start()
    url = cluster.base_url.replace("http://", "ws://") + f"/v1/calls/stream?sample_rate=8000&language={args.language}"
    if args.language == "ru":
        QUESTIONS[:] = QUESTIONS_RU  # every round asks these instead
        args.persona = args.persona or "marina"
    if args.persona:
        url += f"&persona={args.persona}"  # its prompt, lines, voice and FAQ (the modem's calls have one)
    if args.url_extra:
        url += "&" + args.url_extra.lstrip("&")
    from cli.local_access import local_api_key_async

    url += f"&api_key={await local_api_key_async()}"
    results: dict = {"rounds": args.rounds}
    try:
        await one_call(url, "Hello?")  # warm-up: first requests pay for lazy initialisation
        if args.ab_speculation:
            results["ab_speculation"] = await ab(url, args.rounds, "speculate", "true", "false")
            return results
        if args.ab_first_chunk is not None:
            a, b = args.ab_first_chunk or ("eager", "clause")
            results["ab_first_chunk"] = await ab(url, args.rounds, "first_chunk", a, b)
            return results
        if args.ab_chunks:
            results["ab_chunks"] = await ab(url, args.rounds, "chunks", "growing", "sentences", calls=args.calls[-1])
            return results
        if args.ab_playout:
            results["ab_playout"] = await ab(url, args.rounds, "playout", "hold", "immediate", calls=args.calls[-1])
            return results
        if args.ab_stt_model is not None:
            a, b = args.ab_stt_model
            results["ab_stt_model"] = await ab(url, args.rounds, "stt_model", a, b, calls=args.calls[-1])
            return results
        if args.ab_pause_ms is not None:
            a, b = (str(n) for n in args.ab_pause_ms)
            results["ab_pause_ms"] = await ab(url, args.rounds, "pause_ms", a, b, calls=args.calls[-1])
            return results
        if args.ab_packet_ms is not None:
            a, b = (str(n) for n in args.ab_packet_ms)
            results["ab_packet_ms"] = await ab(url, args.rounds, None, a, b, set_packet_ms, calls=args.calls[-1])
            return results
        if args.ab_cores:
            results["ab_cores"] = await ab(url, args.rounds, None, "split", "shared", split_cores, calls=args.calls[-1])
            return results
        if args.ab_llm_nice is not None:
            a, b = (str(n) for n in args.ab_llm_nice)
            results["ab_llm_nice"] = await ab(url, args.rounds, None, a, b, renicer(["llm"]), calls=args.calls[-1])
            return results
        if args.ab_nice is not None:
            groups, a, b = args.ab_nice[0].split(","), args.ab_nice[1], args.ab_nice[2]
            if not groups or any(g not in GROUPS for g in groups) or not all(x.lstrip("-").isdigit() for x in (a, b)):
                raise SystemExit(f"--ab-nice GROUPS A B: GROUPS from {sorted(GROUPS)}, comma-separated; A and B integers")
            results["ab_nice"] = await ab(url, args.rounds, None, a, b, renicer(groups), calls=args.calls[-1])
            return results
        for n in args.calls:
            if (n * args.rounds) % len(QUESTIONS):
                print(
                    f"  note: {args.rounds} rounds of {n} call(s) ask the {len(QUESTIONS)} questions unequally "
                    "often; their p50 is not comparable with a balanced run",
                    flush=True,
                )
            rows = []
            for r in range(args.rounds):
                print(f"  {n} concurrent call(s), round {r + 1}", flush=True)
                batch = await asyncio.gather(*(one_call(url, QUESTIONS[(r + i) % len(QUESTIONS)]) for i in range(n)))
                print(
                    f"    v2v {[round(row['v2v_s'] * 1000) if row['v2v_s'] else None for row in batch]} "
                    f"first chunks {[first_chunk(row) for row in batch]} "
                    f"held {[row['answer_hold'] for row in batch]}",
                    flush=True,
                )
                for row in batch:
                    if row["answer_gaps"]:
                        print(
                            f"    answer ran dry {row['answer_gaps']} (held {row['answer_hold']}, "
                            f"chunks ms {row['answer_chunk_ms']}, "
                            f"stages {[round(row['timings_ms'].get(k, 0)) for k in STAGES]}): "
                            f"{chunk_texts(row['reply'], row['answer_chunk_chars'])}",
                            flush=True,
                        )
                rows += batch
            v2v = [x["v2v_s"] for x in rows if x["v2v_s"] is not None]
            stages = {k: statistics.median([x["timings_ms"][k] for x in rows if k in x["timings_ms"]]) for k in STAGES}
            eot = statistics.median([x["eot_s"] for x in rows if x["eot_s"] is not None])
            results[f"{n}_calls"] = {
                "answered": f"{len(v2v)}/{len(rows)}",
                "v2v_p50_ms": round(pct(v2v, 50) * 1000),
                "v2v_p95_ms": round(pct(v2v, 95) * 1000),
                "end_of_turn_wait_ms": round(eot * 1000),
                # session start to the greeting's first sound (20 ms ticks: the line is paced by the caller)
                "greeting_p50_ms": round(pct([x["greeting_s"] for x in rows if x["greeting_s"]], 50) * 1000),
                "stages_median_ms_from_end_of_speech": stages,
                # end of speech to first frame out, over end of speech to first TTS audio (the compute path)
                "overhead_ratio": round(stages["first_frame"] / stages["first_audio"], 3),
                "client_late_ticks": sum(x["client_late_ticks"] for x in rows),
                # underruns the callers heard: silences inside a reply (the greeting's included)
                "calls_with_reply_gaps": sum(1 for x in rows if x["reply_gaps"]),
                "reply_gaps": sum(x["reply_gaps"] for x in rows),
                "reply_gap_ms": sum(x["reply_gap_ms"] for x in rows),
                "forced_cuts": sum(x["forced_cuts"] for x in rows),
                # what let each answer's first chunk play, and the answers' median hold (0 when none)
                "hold_ends": dict(collections.Counter(x["answer_hold"][1] for x in rows if x["answer_hold"])),
                "hold_ms_median": statistics.median([x["answer_hold"][0] for x in rows if x["answer_hold"]] or [0]),
                "gap_ms_by_reply": [x["gap_ms_by_reply"] for x in rows],
                "transcripts": sorted({x["transcript"] for x in rows})[:4],
                # what was answered: the first chunk's length is what the first reply frame waits for
                "replies": sorted({x["reply"] for x in rows})[:6],
            }
            print(json.dumps(results[f"{n}_calls"]), flush=True)
    finally:
        cluster.stop()
    return results


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--calls", type=int, nargs="+", default=[1, 4])
    p.add_argument(
        "--language",
        choices=["en", "ru"],
        default="en",
        help="ru: Russian questions (Festival's voice) to the persona marina unless --persona names another",
    )
    p.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="serve config to run instead of cluster/profiles/cpu.yaml (a variant under the "
        "project, e.g. in var/, to compare runs of two profiles)",
    )
    p.add_argument(
        "--persona",
        default=None,
        help="call as this persona (e.g. anna: its prompt, greeting and FAQ); default none, the session's built-in prompt",
    )
    p.add_argument(
        "--ab-speculation",
        action="store_true",
        help="1 call: alternate rounds with and without speculative end of turn, same cluster",
    )
    p.add_argument(
        "--ab-first-chunk",
        nargs="*",
        metavar="RULE",
        help="alternate two first_chunk rules (default: eager clause; also phrase), one call at a time, instead of --calls",
    )
    p.add_argument(
        "--packet-ms",
        type=int,
        default=20,
        help="caller audio per WebSocket message (a multiple of 20 ms; the end of speech is "
        "timed from the frame it ends in, so packetising delay counts in voice-to-voice)",
    )
    p.add_argument(
        "--ab-packet-ms",
        type=int,
        nargs=2,
        metavar=("A", "B"),
        help="alternate the callers' packet length, the last --calls value at a time",
    )
    p.add_argument(
        "--ab-cores",
        action="store_true",
        help="alternate a core for the LLM alone (the rest of the cluster on the other) and the "
        "profile's placement, the last --calls value at a time (run as root)",
    )
    p.add_argument(
        "--ab-llm-nice",
        type=int,
        nargs=2,
        metavar=("A", "B"),
        help="alternate the LLM processes' niceness A and B (run as root; Ray starts every "
        "worker at 15), the last --calls value at a time",
    )
    p.add_argument(
        "--ab-nice",
        nargs=3,
        metavar=("GROUPS", "A", "B"),
        help="alternate the niceness A and B of the replica groups named (llm, stt, tts; "
        "comma-separated, e.g. stt,tts), the last --calls value at a time (run as root)",
    )
    p.add_argument(
        "--ab-chunks",
        action="store_true",
        help="alternate chunks=growing|sentences, the last --calls value at a time, instead of --calls",
    )
    p.add_argument(
        "--ab-playout",
        action="store_true",
        help="alternate playout=hold|immediate, the last --calls value at a time, instead of --calls",
    )
    p.add_argument(
        "--ab-stt-model",
        nargs=2,
        metavar=("A", "B"),
        help="alternate the calls' STT model (ids from /v1/models), the last --calls value at a time",
    )
    p.add_argument(
        "--ab-pause-ms",
        type=int,
        nargs=2,
        metavar=("A", "B"),
        help="alternate the speculative pause (ms), the last --calls value at a time",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=8,
        help="rounds of calls; one call at a time asks each question equally often only when "
        "this is a multiple of 4 (the questions' replies open with clauses of different "
        "lengths: 5 rounds ask the first twice and gave a p50 150-250 ms lower than 8)",
    )
    p.add_argument(
        "--url-extra",
        default="",
        help="more WebSocket parameters for every call, e.g. 'pause_ms=80&first_chunk=phrase' "
        "(the A/B's own parameter still alternates)",
    )
    p.add_argument("--out", default="var/bench-voice.json")
    a = p.parse_args()
    set_packet_ms(str(a.packet_ms))
    res = asyncio.run(main(a))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))
