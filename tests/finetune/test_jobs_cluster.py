"""Fine-tuning jobs as Ray Jobs on the session's cluster, on the tiny test model (fast enough for CI).

Submitted through the admin API (multipart, a Telegram export) as a tenant's owner; watched,
cancelled, and a Train worker killed mid-run, as the issue asks. The real model's run (SmolLM2,
served by vLLM afterwards) is ``bench/bench_finetune.py``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import uuid
from pathlib import Path

import httpx
import pytest

from admin.app import app
from admin.dependencies import bind, bind_finetune
from finetune.jobs import TERMINAL, FinetuneJobs
from infra.auth import issue_session_token
from infra.settings import PROJECT_ROOT, get_settings
from personas.adapter_store import AdapterStore
from personas.registry import PersonaRegistry
from personas.schemas import Persona
from telephony.call_store import CallStore
from tests.finetune.telegram_fixture import export_bytes

FAST = {"max_steps": 24, "checkpoint_every": 8, "report_every": 4, "learning_rate": 0.003}


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory) -> str:
    from provisioning.tiny_models import build_tiny_llm

    return str(build_tiny_llm(PROJECT_ROOT / "var" / "finetune-tests" / "tiny", adapters=0) / "base")


@pytest.fixture
async def rig(cluster, tiny_base, monkeypatch):
    """An owner of a fresh tenant with a persona, the in-process admin API, jobs on the cluster."""
    monkeypatch.setenv("SECRETARY_JWT_SECRET", "finetune-test-jwt-secret-0123456789abcdef")
    get_settings.cache_clear()
    tenant = f"ft{uuid.uuid4().hex[:10]}"
    registry = PersonaRegistry(None, tenant, adapters=AdapterStore(get_settings().adapters_dir))
    persona = Persona(
        name=f"anna-{uuid.uuid4().hex[:6]}",
        display_name="Анна",
        language="en",
        system_prompt="You are Anna, the clinic's assistant.",
        lines={
            "greeting": "Hello!",
            "farewell": "Bye.",
            "silence_prompt": "Hello?",
            "hangup_line": "Bye.",
            "apology": "Sorry.",
        },
        voice="joe",
    )
    await registry.create(persona)
    jobs = FinetuneJobs(work_root=PROJECT_ROOT / "var" / "finetune-tests", base_models={"en": tiny_base})
    bind(CallStore(), None)
    bind_finetune(jobs)
    owner = {"Authorization": f"Bearer {issue_session_token('u-' + tenant, tenant, 'owner')}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", timeout=60) as client:
        yield client, owner, tenant, persona.name, registry, jobs
    bind_finetune(None)
    bind(None, None)
    get_settings.cache_clear()


async def submit(client, owner, persona: str, params: dict) -> dict:
    r = await client.post(
        "/finetune/jobs",
        headers=owner,
        data={"persona": persona, "source": "telegram", "params": json.dumps(params)},
        files={"file": ("result.json", export_bytes(), "application/json")},
    )
    assert r.status_code == 202, r.text
    return r.json()


async def wait(client, owner, job_id: str, until=lambda s: s["status"] in TERMINAL, timeout_s: float = 420) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        status = (await client.get(f"/finetune/jobs/{job_id}", headers=owner)).json()
        if until(status):
            return status
        assert loop.time() < deadline, status
        await asyncio.sleep(1.0)


def progress_steps(logs: str) -> list[int]:
    """The steps of the progress lines, in order; a line Ray's log forwarding printed twice counts once."""
    seen: dict[str, None] = {}
    for line in logs.splitlines():
        if "FINETUNE_PROGRESS " in line:
            seen.setdefault(line.split("FINETUNE_PROGRESS ", 1)[1].strip())
    return [json.loads(text)["step"] for text in seen]


async def test_a_job_trains_evaluates_publishes_and_rolls_back(rig):
    client, owner, tenant, name, registry, _jobs = rig
    submitted = await submit(client, owner, name, FAST)
    assert submitted["stats"]["phones_masked"] == 1 and submitted["stats"]["train"] > 5
    status = await wait(client, owner, submitted["job_id"])
    logs = (await client.get(f"/finetune/jobs/{submitted['job_id']}/logs", headers=owner)).json()["logs"]
    assert status["status"] == "SUCCEEDED", logs[-3000:]
    result = status["result"]
    assert result["published"] is True, result
    assert result["evaluation"]["new"]["loss"] < result["evaluation"]["base"]["loss"]
    assert set(status["timings_s"]) >= {"data", "train", "eval", "publish"}
    assert status["progress"]["step"] == FAST["max_steps"] and progress_steps(logs)[-1] == FAST["max_steps"]
    persona = await registry.get(name)
    assert persona.adapter.version == 1 and persona.status == "available" and persona.adapter.sha256
    path = Path(persona.adapter.path)
    assert path.is_relative_to(get_settings().adapters_dir / tenant)  # the tenant's own store
    config = json.loads((path / "adapter_config.json").read_text())
    assert not config.get("modules_to_save") and set(config["target_modules"]) == {"q_proj", "k_proj", "v_proj", "o_proj"}
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".staging")]
    # The CLI reads the same job (the operator's view, any tenant).
    from cli.finetune import bar
    from cli.main import main as cli

    assert await asyncio.to_thread(cli, ["finetune", "status", submitted["job_id"], "--tenant", tenant]) == 0
    assert "step 24/24" in bar(status["progress"]) and bar(None).startswith("waiting")
    versions = (await client.get(f"/personas/{name}/adapter/versions", headers=owner)).json()["items"]
    assert [(v["version"], v["status"]) for v in versions] == [(1, "published")]
    # Another tenant sees no such job, and cannot roll this persona back.
    stranger = {"Authorization": f"Bearer {issue_session_token('u-x', 'someone-else', 'owner')}"}
    assert (await client.get(f"/finetune/jobs/{submitted['job_id']}", headers=stranger)).status_code == 404
    assert (await client.post(f"/personas/{name}/adapter/rollback", headers=stranger)).status_code == 404
    # Rolling back is one call: the base model again (there was no earlier version).
    r = await client.post(f"/personas/{name}/adapter/rollback", headers=owner)
    assert r.status_code == 200 and r.json()["adapter"] is None
    assert (await registry.get(name)).adapter is None


async def test_a_job_cancelled_midway_publishes_nothing(rig):
    client, owner, tenant, name, registry, _jobs = rig
    submitted = await submit(client, owner, name, {**FAST, "max_steps": 100_000, "checkpoint_every": 50, "report_every": 10})
    job_id = submitted["job_id"]
    await wait(client, owner, job_id, until=lambda s: (s["progress"] or {}).get("step", 0) >= 5 or s["status"] in TERMINAL)
    assert (await client.post(f"/finetune/jobs/{job_id}/cancel", headers=owner)).json()["stopping"] is True
    status = await wait(client, owner, job_id)
    assert status["status"] == "STOPPED"
    assert (await registry.get(name)).adapter is None
    store = get_settings().adapters_dir / tenant / name
    assert not store.exists() or not any(store.iterdir())  # no version, no staging directory


def _train_worker_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"RayTrainWorker" in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


async def test_a_worker_killed_midway_is_replaced_and_training_resumes_from_its_checkpoint(rig):
    client, owner, _tenant, name, registry, _jobs = rig
    params = {**FAST, "max_steps": 300, "checkpoint_every": 50, "report_every": 10}
    submitted = await submit(client, owner, name, params)
    job_id = submitted["job_id"]
    await wait(client, owner, job_id, until=lambda s: (s["progress"] or {}).get("step", 0) >= 70 or s["status"] in TERMINAL)
    pids = _train_worker_pids()
    assert pids, "no Ray Train worker process found"
    os.kill(pids[-1], signal.SIGKILL)
    status = await wait(client, owner, job_id)
    logs = (await client.get(f"/finetune/jobs/{job_id}/logs", headers=owner)).json()["logs"]
    assert status["status"] == "SUCCEEDED" and status["result"]["published"], logs[-3000:]
    steps = progress_steps(logs)
    assert steps.count(1) == 1  # never started over from the beginning
    resumed = [b for a, b in itertools.pairwise(steps) if b <= a]  # the step after the restart
    assert resumed and all(b > 1 and (b - 1) % params["checkpoint_every"] == 0 for b in resumed), resumed
    assert (await registry.get(name)).adapter.version == 1
