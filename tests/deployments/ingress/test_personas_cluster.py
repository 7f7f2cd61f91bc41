"""Personas on the real cluster: SmolLM2 with LoRA adapters, Serve multiplexing, the cloud fallback.

Adapters are built here with random weights (``provisioning/adapters.py``): fluent, but each
changes the replies. Personas are created through the admin API while the cluster serves and
are asked through the official ``openai`` client. The last test SIGKILLs the LLM replica in the
middle of a stream and waits until Serve has replaced it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import uuid

import httpx
import openai
import psutil
import pytest

from infra.settings import get_settings
from tests.conftest import ADMIN_TOKEN
from tests.fake_cloud_llm import REPLY

pytestmark = pytest.mark.cluster
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SYSTEM = "You are the secretary of a small dental clinic. Answer in one or two sentences."
ASK = [{"role": "user", "content": "Hello, can I book an appointment for a cleaning next week?"}]
LINES = {
    "greeting": "Hello.",
    "farewell": "Goodbye.",
    "silence_prompt": "Are you there?",
    "hangup_line": "Goodbye.",
    "apology": "Sorry, I am having trouble right now.",
}


@pytest.fixture(scope="module")
def adapters() -> dict[str, str]:
    from provisioning.adapters import random_adapters

    base = get_settings().resolve_model_path("smollm2-135m-instruct")
    out = get_settings().adapters_dir / "_shared" / "cluster-tests"  # the operator's adapter store
    paths = random_adapters(base, out, ["one", "two", "three"], rank=8, std=0.12, seed=11)
    return {p.name: f"cluster-tests/{p.name}" for p in paths}


@pytest.fixture(scope="module")
def admin(cluster):
    with httpx.Client(base_url=f"{cluster}/admin", headers=AUTH, timeout=60) as client:
        deadline = time.monotonic() + 120
        while client.get("/personas").status_code != 200:
            assert time.monotonic() < deadline, "the admin app never answered"
            time.sleep(1)
        yield client


@pytest.fixture
def personas(admin):
    """Creates personas with unique names (the cluster's database outlives the test) and removes them."""
    made: list[str] = []

    def make(stem: str, adapter: str | None = None) -> str:
        name = f"{stem}-{uuid.uuid4().hex[:6]}"
        body = {
            "name": name,
            "display_name": stem.title(),
            "language": "en",
            "voice": "joe",
            "system_prompt": SYSTEM,
            "lines": LINES,
        }
        r = admin.post("/personas", json=body)
        assert r.status_code == 201 and r.json()["status"] == "available", r.text
        made.append(name)
        if adapter is not None:  # published from the store, as an owner would after fine-tuning
            r = admin.put(f"/personas/{name}/adapter", json={"version": 1, "path": adapter})
            assert r.status_code == 200 and r.json()["status"] == "available", r.text
        return name

    yield make
    for name in made:
        admin.delete(f"/personas/{name}")


def ask(client: openai.OpenAI, model: str, max_tokens: int = 32) -> str:
    r = client.chat.completions.create(model=model, messages=ASK, temperature=0.0, max_tokens=max_tokens)
    return r.choices[0].message.content


def test_personas_with_different_adapters_answer_differently_and_a_new_one_works_at_once(
    openai_client, chat_model, personas, adapters
):
    one = personas("one", adapters["one"])
    two = personas("two", adapters["two"])
    plain = personas("plain")
    answers = {m: ask(openai_client, m) for m in (one, two, plain)}
    assert len(set(answers.values())) == 3, answers
    assert all(len(a.split()) >= 5 for a in answers.values()), answers  # fluent replies, not noise
    three = personas("three", adapters["three"])
    assert ask(openai_client, three) not in answers.values()
    listed = {m.id: m.model_extra for m in openai_client.models.list().data}
    assert listed[three]["kind"] == "persona" and listed[three]["adapter"].startswith("shared-")
    assert listed[three]["parent"] == chat_model
    with pytest.raises(openai.NotFoundError):
        ask(openai_client, f"nobody-{uuid.uuid4().hex[:6]}")


def test_publishing_a_new_version_mid_stream_drops_nothing(openai_client, admin, personas, adapters):
    name = personas("pub", adapters["one"])
    reference = personas("ref", adapters["two"])
    stream = openai_client.chat.completions.create(
        model=name,
        messages=ASK,
        temperature=0.0,
        max_tokens=96,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"ignore_eos": True},
    )
    chunks = [next(stream), next(stream)]
    r = admin.put(f"/personas/{name}/adapter", json={"version": 2, "path": adapters["two"]})
    assert r.status_code == 200 and r.json()["adapter"]["version"] == 2
    assert ask(openai_client, name) == ask(openai_client, reference)  # the next request runs v2
    chunks += list(stream)
    assert chunks[-1].usage.completion_tokens == 96  # the v1 stream ran to its end


def _llm_replica_pids() -> list[int]:
    out = subprocess.run(["pgrep", "-f", "ServeReplica:secretary:LLMServer"], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def _source(cluster: str, model: str, key: str) -> tuple[int, str, str]:
    r = httpx.post(
        f"{cluster}/v1/chat/completions",
        timeout=120,
        headers={"Authorization": f"Bearer {key}"},
        json={"model": model, "messages": ASK, "max_tokens": 16, "temperature": 0.0},
    )
    body = r.json()
    text = body["choices"][0]["message"]["content"] if r.status_code == 200 else body["error"]["message"]
    return r.status_code, r.headers.get("x-reply-source", ""), text


def test_llm_replica_killed_mid_stream_apology_then_cloud_then_local_again(cluster, personas, adapters, fake_cloud, api_key):
    name = personas("kill", adapters["one"])
    assert _source(cluster, name, api_key)[:2] == (200, "local")  # the replica is up, its engine too
    pids, engines = _replica_and_engines()
    assert pids, "no LLM replica process"
    assert engines, f"the replica runs no engine process: {_children(pids)}"
    before = len(fake_cloud.requests)
    with (
        httpx.Client(timeout=120, headers={"Authorization": f"Bearer {api_key}"}) as client,
        client.stream(
            "POST",
            f"{cluster}/v1/chat/completions",
            json={"model": name, "messages": ASK, "max_tokens": 400, "stream": True, "ignore_eos": True, "temperature": 0.0},
        ) as r,
    ):
        assert r.headers["x-reply-source"] == "local"
        lines = r.iter_lines()
        got = [next(lines) for _ in range(6)]
        killer = threading.Timer(0.0, lambda: [os.kill(p, signal.SIGKILL) for p in pids])
        killer.start()
        got += list(lines)
    text = "".join(
        json.loads(line[6:])["choices"][0]["delta"].get("content", "") for line in got if line.startswith("data: {")
    )
    events = [line for line in got if line]
    assert events[-1] == "data: [DONE]" and text.endswith(" " + LINES["apology"]), text[-200:]

    # While Serve replaces the replica, the persona answers from the cloud (no error).
    assert (_source(cluster, name, api_key)) == (200, "cloud", REPLY)
    assert len(fake_cloud.requests) > before

    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        status, source, _ = _source(cluster, name, api_key)
        if status == 200 and source == "local":
            break
        time.sleep(2)
    else:
        pytest.fail("the LLM replica was not replaced")
    assert set(_llm_replica_pids()).isdisjoint(pids)
    # The killed replica's engine process went with it (its memory is free for the new one).
    deadline = time.monotonic() + 60
    while any(psutil.pid_exists(p) for p in engines) and time.monotonic() < deadline:
        time.sleep(1)
    assert not [p for p in engines if psutil.pid_exists(p)], engines
    new_pids, new_engines = _replica_and_engines()
    assert new_engines, f"the new replica runs no engine process: {_children(new_pids)}"


def _replica_and_engines(timeout_s: float = 30.0) -> tuple[list[int], list[int]]:
    """The LLM replica processes and their engines, read again for a while: twice in CI one look
    found a replica that had just answered without its engine (psutil reads each child's command
    line apart, and a child can be caught mid-change)."""
    deadline = time.monotonic() + timeout_s
    while not (engines := _engine_pids(pids := _llm_replica_pids())) and time.monotonic() < deadline:
        time.sleep(1)
    return pids, engines


def _children(replica_pids: list[int]) -> dict[int, list[str]]:
    """Each replica's child processes by command line: what a failed engine search saw."""
    out = {}
    for pid in replica_pids:
        try:
            out[pid] = [" ".join(c.cmdline())[:80] for c in psutil.Process(pid).children(recursive=True)]
        except psutil.Error as exc:
            out[pid] = [type(exc).__name__]
    return out


def _engine_pids(replica_pids: list[int]) -> list[int]:
    """The vLLM engine processes under these replicas (not, say, an in-process test engine).

    Each child is read on its own: a replica can have an exited child (a zombie) beside its
    engine, and that one must not hide the others.
    """
    found = []
    for pid in replica_pids:
        try:
            children = psutil.Process(pid).children(recursive=True)
        except psutil.NoSuchProcess:
            continue
        for child in children:
            try:
                line = " ".join(child.cmdline())
                # vLLM's engine core, renamed "VLLM::EngineCore"; in some CI runs a replacement
                # replica's engine processes kept multiprocessing's spawn command line instead.
                if "EngineCore" in line or "multiprocessing.spawn import spawn_main" in line:
                    found.append(child.pid)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
    return found
