"""A real phone call through the cluster: simulator → ingress actor → Serve models → back out.

The simulator runs in a thread of the test process at the port paths the test cluster was given;
the ingress actor (created by the admin app on the node with ``modem: 1``) answers it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import httpx
import numpy as np
import pytest

from infra.audio import pcm16_to_float, resample
from tests.cluster_modem import known_calls, wait_for_call_end
from tests.speech import wer
from tests.telephony.ingress_rig import caller_script

pytestmark = pytest.mark.cluster


@pytest.fixture
def sim(modem_sim):
    return modem_sim


@pytest.fixture
def admin(modem_admin):
    return modem_admin


def coverage(expected: str, heard: str) -> float:
    """The share of the expected words (three letters or more) that were heard."""
    norm = lambda t: re.sub(r"[^\w\s]", " ", t.lower()).split()  # noqa: E731
    words = [w for w in norm(expected) if len(w) >= 3]
    got = set(norm(heard))
    return sum(w in got for w in words) / max(1, len(words))


def transcribe(stt_engine, pcm: bytes) -> str:
    audio = resample(pcm16_to_float(pcm), 8000, 16000).astype(np.float32)
    return stt_engine.transcribe(audio, language="en").text


def test_phone_call_end_to_end(admin, sim, stt_engine):
    sim.call(sim.modem.uplink.clear)
    question = "What time do you open tomorrow?"
    before = known_calls(admin)
    sim.call(
        sim.modem.incoming_call, "+79161234567", caller_script((8.0, question), (20.5, "Thank you. Goodbye."), total_s=44)
    )
    record = wait_for_call_end(admin, before)

    assert record["end_reason"] == "caller_goodbye", [(t["speaker"], t["at_s"], t["text"]) for t in record["transcript"]]
    assert record["number"] == "+7916***4567" and record["persona"] == "anna"
    caller = [t for t in record["transcript"] if t["speaker"] == "caller"]
    replies = [t["text"] for t in record["transcript"] if t["speaker"] == "assistant" and t["text"]]
    assert wer(question, caller[0]["text"]) <= 0.25
    assert caller[0]["timings_ms"]["first_frame"] > 0
    # The secretary's voice as the modem received it transcribes back to what the record says it said.
    heard = transcribe(stt_engine, bytes(sim.modem.uplink)).lower()
    assert "clinic" in heard and "recorded" in heard and "anna" in heard
    answer = " ".join(replies[1].split()[:8])  # its start: the caller may talk over the rest
    assert coverage(answer, heard) >= 0.6, (answer, heard)
    # Underruns on the simulator's punctual ticks; those while it ran late itself are its own.
    assert sim.modem.uplink_underruns <= 0.01 * len(sim.modem.uplink) / 320, (
        sim.modem.uplink_underruns,
        sim.modem.uplink_underrun_frames[:20],
        sim.modem.uplink_underruns_while_late,
        sim.modem.clock_late_ticks,
    )
    full = admin.get(f"/calls/{record['id']}").json()
    assert full["recording_ref"] and full["duration_s"] > 8


def _python_thread_niceness(pid: int) -> list[int]:
    """The niceness of each of the process's Python threads (named after the process, ``ray::…``;
    Ray's own C++ threads have names of their own and are left as they were started)."""
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/comm") as f:
            if not f.read().startswith("ray::"):
                continue
        with open(f"/proc/{pid}/task/{task}/stat") as f:
            out.append(int(f.read().rsplit(")", 1)[1].split()[16]))  # field 19, after the name
    return out


@pytest.mark.skipif(os.geteuid() != 0, reason="ahead of Ray's nice 15 needs CAP_SYS_NICE (CI runs as root)")
def test_the_uplink_pacer_runs_ahead_of_the_model_replicas(admin, sim):
    actor = subprocess.run(["pgrep", "-f", "ray::ModemIngressActor"], capture_output=True, text=True).stdout.split()
    stt = subprocess.run(["pgrep", "-f", "ServeReplica:secretary:STTServer"], capture_output=True, text=True).stdout.split()
    assert actor and stt
    # The profile asks nice 0 for the actor's whole process (its threads share the pacer's GIL);
    # the model replicas' Python threads stay at the 15 Ray gave them.
    assert set(_python_thread_niceness(int(actor[0]))) == {0}, _python_thread_niceness(int(actor[0]))
    assert set(_python_thread_niceness(int(stt[0]))) == {15}


def _kill_replica(deployment: str) -> int:
    out = subprocess.run(["pgrep", "-f", f"ServeReplica:secretary:{deployment}"], capture_output=True, text=True)
    pids = [int(p) for p in out.stdout.split()]
    assert pids, f"no {deployment} replica process found"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    return len(pids)


def _wait_ready(base_url: str, within_s: float = 180.0) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/readyz", timeout=15).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1.0)
    raise AssertionError("the cluster did not recover")


def test_tts_replica_killed_mid_call(admin, sim, cluster):
    """The call goes on after Serve replaces the replica, or ends with the apology; the record is saved."""
    before = known_calls(admin)
    sim.call(
        sim.modem.incoming_call,
        "+79035551234",
        caller_script(
            (8.0, "Can you tell me about your prices for cleaning?"),
            (19.5, "Are you there?"),
            (27.5, "Goodbye."),
            total_s=48,
        ),
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the caller's question is being answered
        call = admin.get("/calls/active").json()["call"]
        if call and call["turns"] >= 3:
            break
        time.sleep(0.2)
    assert _kill_replica("TTSServer") >= 1
    record = wait_for_call_end(admin, before, within_s=120)
    assert record["end_reason"] in ("caller_goodbye", "service_error", "silence_timeout"), record
    assert record["transcript"], record
    _wait_ready(cluster)
    if record["end_reason"] == "caller_goodbye":
        # it went on: a caller turn after the kill was heard and answered
        assert sum(t["speaker"] == "caller" for t in record["transcript"]) >= 2


def test_ingress_actor_restarts_after_a_crash(admin, sim):
    """SIGKILL the actor mid-call: Ray restarts it, the orphaned call is closed and hung up, the
    next call is answered."""
    before = known_calls(admin)
    sim.call(sim.modem.incoming_call, "+79035550001", caller_script(total_s=60))
    deadline = time.monotonic() + 30
    while not (admin.get("/calls/active").json().get("call") or {}).get("state") == "active":
        assert time.monotonic() < deadline, "the call was not answered"
        time.sleep(0.2)
    out = subprocess.run(["pgrep", "-f", "ray::ModemIngressActor"], capture_output=True, text=True)
    pids = [int(p) for p in out.stdout.split()]
    assert pids, "no ingress actor process"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 90
    while True:
        try:
            if admin.get("/modem/status").json()["ingress"]["modem"] == "ready":
                break
        except (httpx.HTTPError, KeyError, ValueError):
            pass
        assert time.monotonic() < deadline, "the ingress did not come back"
        time.sleep(0.5)
    orphan = wait_for_call_end(admin, before, within_s=30)
    # Closed by whichever saw it first: the admin app's line watch (the actor was RESTARTING) or
    # the restarted actor itself.
    assert orphan["end_reason"] in ("ingress_lost", "ingress_restarted"), orphan
    assert sim.call(lambda: sim.modem.call) is None  # hung up on re-initialisation
    before = known_calls(admin)
    sim.call(sim.modem.incoming_call, "+79035550002", caller_script(total_s=20))
    deadline = time.monotonic() + 30
    while not (call := admin.get("/calls/active").json().get("call")) or call["state"] != "active":
        assert time.monotonic() < deadline, "the next call was not answered"
        time.sleep(0.2)
    assert admin.post(f"/calls/{call['call_id']}/hangup").status_code == 200
    assert wait_for_call_end(admin, before)["end_reason"] == "admin_hangup"
