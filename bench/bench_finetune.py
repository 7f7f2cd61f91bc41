"""Fine-tuning on the CPU profile: step time, tokens/s, and submission to the first reply with the new adapter.

Not a test: run by hand. Starts the CPU-profile cluster (or uses one at --base-url), makes a
persona for the local tenant, submits a job on the served model's base (SmolLM2-135M) with the
Telegram export fixture, and measures:

- training: the median step time and tokens/s from the job's progress lines;
- the time from ``submit`` to the first ``/v1/chat/completions`` reply served with the new
  adapter, split into queue (submitted → the job's driver running), data, train, eval, publish
  (the job's own stage timings) and first reply (published → the first reply that carries it).

    .venv/bin/python bench/bench_finetune.py --steps 40 --out var/bench-finetune.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cli.local_access import local_api_key, local_tenant_id
from cli.local_cluster import LocalCluster
from finetune.jobs import TERMINAL, FinetuneJobs
from finetune.sources.telegram import dialogues_from_export
from infra.settings import PROJECT_ROOT, get_settings
from personas.adapter_store import AdapterStore
from personas.registry import PersonaRegistry
from personas.schemas import Persona
from tests.finetune.telegram_fixture import export_bytes

LINES = {"greeting": "Hello.", "farewell": "Bye.", "silence_prompt": "Hello?", "hangup_line": "Bye.", "apology": "Sorry."}


async def run(args) -> dict:
    from openai import OpenAI

    tenant = await local_tenant_id()
    name = f"bench-{uuid.uuid4().hex[:6]}"
    registry = PersonaRegistry(None, tenant, adapters=AdapterStore(get_settings().adapters_dir))
    await registry.create(
        Persona(name=name, display_name="Artem", language="en", system_prompt="Answer briefly.", lines=LINES, voice="joe")
    )
    client = OpenAI(base_url=f"{args.base_url}/v1", api_key=local_api_key(), max_retries=0, timeout=120)
    jobs = FinetuneJobs()
    t_submit = time.monotonic()
    submitted = await jobs.submit(tenant, name, dialogues_from_export(export_bytes()), {"max_steps": args.steps})
    running_at = None
    while True:
        status = await jobs.status(submitted.job_id, tenant)
        if running_at is None and status["status"] == "RUNNING":
            running_at = time.monotonic()
        if status["status"] in TERMINAL:
            break
        await asyncio.sleep(0.5)
    t_done = time.monotonic()
    if not (status["result"] or {}).get("published"):
        raise SystemExit(f"the job did not publish: {json.dumps(status, default=str)[:2000]}")
    reply = client.chat.completions.create(
        model=name, messages=[{"role": "user", "content": "Do you take children?"}], temperature=0, max_tokens=40
    )
    t_reply = time.monotonic()
    logs = await jobs.logs(submitted.job_id, tenant)
    steps = [
        json.loads(line.split("FINETUNE_PROGRESS ", 1)[1]) for line in logs.splitlines() if "FINETUNE_PROGRESS " in line
    ]
    timings = status["timings_s"]
    return {
        "steps": args.steps,
        "step_s_median": round(statistics.median(s["step_s"] for s in steps), 3),
        "tokens_per_s_median": round(statistics.median(s["tokens"] / s["step_s"] for s in steps), 1),
        "submit_to_first_reply_s": round(t_reply - t_submit, 1),
        "split_s": {
            "queue": round((running_at or t_submit) - t_submit, 1),
            **{k: round(v, 1) for k, v in timings.items() if k in ("data", "train", "eval", "publish")},
            "first_reply": round(t_reply - t_done, 1),
        },
        "losses": {k: v["loss"] for k, v in status["result"]["evaluation"].items()},
        "reply": reply.choices[0].message.content,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--base-url", default=None, help="a running cluster; default: start the CPU profile here")
    p.add_argument("--out", default=str(PROJECT_ROOT / "var" / "bench-finetune.json"))
    args = p.parse_args()
    cluster = None
    if args.base_url is None:
        cluster = LocalCluster()
        cluster.start(timeout_s=600, progress=print)
        args.base_url = cluster.base_url
    try:
        figures = asyncio.run(run(args))
    finally:
        if cluster is not None:
            cluster.stop()
    Path(args.out).write_text(json.dumps(figures, indent=1, ensure_ascii=False))
    print(json.dumps(figures, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
