"""The fine-tuning job, as Ray runs it (``python -m finetune.job <work_dir>``, submitted by ``finetune/jobs.py``).

Stages, each timed into ``status.json`` (the CLI and ``bench/bench_finetune.py`` read them):

1. **data**: Ray Data reads the prepared ``train.jsonl``;
2. **train**: a Ray Train ``TorchTrainer`` runs ``finetune/train_loop.py`` on the spec's workers,
   checkpointing as it goes (a killed worker is replaced and resumes from the last checkpoint);
3. **eval**: the base model, the persona's current adapter and the new one on the held-out split;
4. **publish**: only if the new adapter's loss beats the current one (or the base's), into the
   tenant's adapter store and onto the persona (``finetune/publish.py``).

``result.json`` says what happened. A job cancelled or failed before *publish* leaves the store
and the persona as they were.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from finetune.spec import JobSpec


class Progress:
    """Stage and timings in ``status.json``, rewritten atomically at each change."""

    def __init__(self, work_dir: Path) -> None:
        self.path = work_dir / "status.json"
        self.state: dict[str, Any] = {"stage": "queued", "timings_s": {}, "started_at": time.time()}
        self._t0 = time.monotonic()

    def stage(self, name: str) -> None:
        now = time.monotonic()
        previous = self.state["stage"]
        self.state["timings_s"][previous] = round(now - self._t0, 3)
        self.state["stage"], self._t0 = name, now
        self._write()

    def _write(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state))
        tmp.replace(self.path)


def train(spec: JobSpec, progress: Progress | None = None) -> Path:
    """Ray Data + Ray Train; returns the trained adapter's directory (copied out of the last checkpoint)."""
    import shutil

    import ray.data
    import ray.train
    from ray.train.torch import TorchTrainer

    from finetune.train_loop import train_loop_per_worker

    p = spec.params
    dataset = ray.data.read_json(
        str(Path(spec.dataset_dir) / "train.jsonl"), ray_remote_args={"num_cpus": min(0.25, p.cpus_per_worker)}
    ).materialize()  # read now: the "data" stage's time is the reading's, not hidden in the first step
    if progress is not None:
        progress.stage("train")
    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config={"spec": spec.model_dump()},
        scaling_config=ray.train.ScalingConfig(
            num_workers=p.num_workers, use_gpu=p.use_gpu, resources_per_worker={"CPU": p.cpus_per_worker}
        ),
        datasets={"train": dataset},
        run_config=ray.train.RunConfig(
            name=spec.job_id,
            storage_path=spec.storage_path,
            checkpoint_config=ray.train.CheckpointConfig(num_to_keep=2),
            failure_config=ray.train.FailureConfig(max_failures=2),
        ),
    )
    result = trainer.fit()
    if result.checkpoint is None:
        raise RuntimeError("training ended without a checkpoint")
    out = Path(spec.work_dir) / "adapter"
    shutil.rmtree(out, ignore_errors=True)
    with result.checkpoint.as_directory() as d:
        shutil.copytree(Path(d) / "adapter", out)
    return out


async def evaluate_and_publish(spec: JobSpec, adapter_dir: Path, progress: Progress) -> dict:
    from finetune.dataset import read_jsonl
    from finetune.evaluate import evaluate
    from finetune.publish import publish, stage_into_store
    from finetune.versions import AdapterVersions
    from personas.adapter_store import AdapterStore
    from personas.registry import PersonaRegistry

    p = spec.params
    registry = PersonaRegistry(spec.database_url, spec.tenant_id, adapters=AdapterStore(Path(spec.adapters_dir)))
    store = registry.adapters
    persona = await registry.get(spec.persona)
    eval_set = read_jsonl(Path(spec.dataset_dir) / "eval.jsonl")
    run = asyncio.to_thread
    evaluation = {"base": await run(evaluate, spec.base_model, None, eval_set, p.max_len, p.eval_samples)}
    if persona.adapter is not None and persona.status == "available":
        evaluation["current"] = await run(
            evaluate, spec.base_model, persona.adapter.path, eval_set, p.max_len, p.eval_samples
        )
    evaluation["new"] = await run(evaluate, spec.base_model, adapter_dir, eval_set, p.max_len, p.eval_samples)
    rival = evaluation.get("current", evaluation["base"])
    versions = AdapterVersions(spec.database_url, spec.tenant_id)
    version = await versions.next_version(spec.persona, persona.adapter.version if persona.adapter else 0)
    if evaluation["new"]["loss"] >= rival["loss"]:
        await versions.add(spec.persona, version, spec.job_id, {}, evaluation, "rejected")
        return {"published": False, "reason": "the new adapter is not better than the current one", "evaluation": evaluation}
    progress.stage("publish")
    relative = stage_into_store(store, spec.tenant_id, spec.persona, version, spec.job_id, adapter_dir)
    adapter = await publish(registry, store, spec.tenant_id, spec.persona, relative, version)
    await versions.add(spec.persona, version, spec.job_id, adapter, evaluation, "published")
    return {"published": True, "version": version, "adapter": adapter, "evaluation": evaluation}


async def _give_back(spec: JobSpec) -> bool:
    """The job failed before training: its fine-tune goes back to the plan (once; the status poll may too)."""
    from billing.gate import build_gate

    gate = build_gate() if spec.tenant_id else None
    if gate is None:
        return False
    try:
        return await gate.release_finetune(spec.tenant_id, spec.job_id)
    except Exception:
        return False
    finally:
        await gate.close()


def main(work_dir: str) -> int:
    work = Path(work_dir)
    spec = JobSpec(**json.loads((work / "spec.json").read_text()))
    progress = Progress(work)
    outcome: dict[str, Any]
    try:
        progress.stage("data")
        adapter_dir = train(spec, progress)
        progress.stage("eval")
        outcome = asyncio.run(evaluate_and_publish(spec, adapter_dir, progress))
        progress.stage("done")
        status = 0
    except Exception as exc:
        trained = progress.state["stage"] not in ("queued", "data")  # failed while reading: nothing was trained
        progress.stage("failed")
        outcome = {"published": False, "error": f"{type(exc).__name__}: {str(exc)[:500]}"}
        status = 1
        if not trained:
            outcome["allowance_returned"] = asyncio.run(_give_back(spec))
    outcome["timings_s"] = progress.state["timings_s"]
    (work / "result.json").write_text(json.dumps(outcome, ensure_ascii=False, indent=1, default=str))
    print("FINETUNE_RESULT " + json.dumps({k: outcome.get(k) for k in ("published", "version", "error")}), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
