"""``secretary finetune submit | status | logs | cancel``: fine-tuning jobs on the cluster, from a shell.

``submit`` builds the dataset here (its statistics are printed before anything is spent),
reserves the plan's allowance and submits the Ray Job; with ``--wait`` it shows a progress bar of
steps and loss until the job ends, then the evaluation and whether it was published.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any


def _jobs(args: argparse.Namespace) -> Any:
    from billing.gate import build_gate
    from finetune.jobs import FinetuneJobs
    from infra.settings import get_settings

    gate = build_gate() if get_settings().metering and args.tenant else None
    return FinetuneJobs(args.dashboard, profile=args.profile, gate=gate)


def _overrides(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, _, value = pair.partition("=")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


async def _dialogues(args: argparse.Namespace) -> list:
    if args.telegram:
        from finetune.sources.telegram import dialogues_from_export

        raw = await asyncio.to_thread(Path(args.telegram).read_bytes)
        return dialogues_from_export(raw, owner=args.owner)
    if args.jsonl:
        from finetune.sources.chat_jsonl import dialogues_from_jsonl

        return dialogues_from_jsonl(await asyncio.to_thread(Path(args.jsonl).read_bytes))
    from finetune.sources.calls import dialogues_from_calls

    return await dialogues_from_calls(None, args.tenant)


def bar(progress: dict | None, width: int = 30) -> str:
    if not progress:
        return "waiting for the first step…"
    done = progress["step"] / max(1, progress["max_steps"])
    filled = int(done * width)
    return (
        f"[{'#' * filled}{'.' * (width - filled)}] step {progress['step']}/{progress['max_steps']} "
        f"loss {progress['loss']:.3f} ({progress['tokens'] / max(progress['step_s'], 1e-6):.0f} tokens/s)"
    )


async def _submit(args: argparse.Namespace) -> int:
    from finetune.dialogues import DatasetError

    jobs = _jobs(args)
    try:
        dialogues = await _dialogues(args)
        submitted = await jobs.submit(args.tenant, args.persona, dialogues, _overrides(args.set), args.base_model)
    except (DatasetError, ValueError, LookupError) as exc:
        print(f"not submitted: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the plan's limit (402), the cluster away
        print(f"not submitted: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print(f"dataset: {json.dumps(asdict(submitted.stats))}")
    print(f"job {submitted.job_id} submitted")
    if not args.wait:
        return 0
    return await _watch(jobs, submitted.job_id, args.tenant)


async def _watch(jobs: Any, job_id: str, tenant: str | None) -> int:
    from finetune.jobs import TERMINAL

    while True:
        status = await jobs.status(job_id, tenant, operator=True)
        line = f"{status['status']:<9} {status['stage'] or '':<8} {bar(status['progress'])}"
        print("\r" + line, end="", flush=True) if sys.stdout.isatty() else print(line, flush=True)
        if status["status"] in TERMINAL:
            print()
            print("result: " + json.dumps(status["result"], ensure_ascii=False))
            return 0 if status["status"] == "SUCCEEDED" and not (status["result"] or {}).get("error") else 1
        await asyncio.sleep(2)


async def _status(args: argparse.Namespace) -> int:
    print(json.dumps(await _jobs(args).status(args.job_id, args.tenant, operator=True), ensure_ascii=False, indent=1))
    return 0


async def _logs(args: argparse.Namespace) -> int:
    print(await _jobs(args).logs(args.job_id, args.tenant, operator=True))
    return 0


async def _cancel(args: argparse.Namespace) -> int:
    stopped = await _jobs(args).cancel(args.job_id, args.tenant, operator=True)
    print("stopping" if stopped else "the job had already ended")
    return 0


def add_parser(sub: Any) -> None:
    from finetune.jobs import DASHBOARD_URL

    ft = sub.add_parser("finetune", help="fine-tune a persona's LoRA adapter as a Ray Job").add_subparsers(
        dest="action", required=True
    )

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--dashboard", default=DASHBOARD_URL, help="the Ray dashboard (job API) address")
        p.add_argument("--tenant", help="the persona's tenant (empty: the installation's own personas)")
        p.add_argument("--profile", default="cpu", choices=("cpu", "gpu"))

    submit = ft.add_parser("submit", help="build the dataset, reserve the allowance, submit")
    common(submit)
    submit.add_argument("--persona", required=True)
    source = submit.add_mutually_exclusive_group(required=True)
    source.add_argument("--telegram", help="a Telegram Desktop export (result.json)")
    source.add_argument("--jsonl", help='chat JSONL: one {"messages": [...]} per line')
    source.add_argument("--calls", action="store_true", help="the transcripts of consenting callers' calls")
    submit.add_argument("--owner", help="whose messages are the owner's in a one-chat export (from_id or name)")
    submit.add_argument("--set", nargs="*", metavar="KEY=VALUE", help="hyper-parameters, e.g. max_steps=100")
    submit.add_argument("--base-model", help="train on this model directory instead of the profile's")
    submit.add_argument("--wait", action="store_true", help="show progress until the job ends")
    submit.set_defaults(func=lambda a: asyncio.run(_submit(a)))
    for name, fn, text in (
        ("status", _status, "the job's state, stage timings, progress and result"),
        ("logs", _logs, "the job's logs"),
        ("cancel", _cancel, "stop the job (nothing is published)"),
    ):
        p = ft.add_parser(name, help=text)
        common(p)
        p.add_argument("job_id")
        p.set_defaults(func=lambda a, fn=fn: asyncio.run(fn(a)))
