"""Submitting, watching and cancelling fine-tuning jobs as Ray Jobs: one code path for the CLI and the admin API.

``submit`` checks everything that can be checked before a job costs anything: the persona is
the caller's, the material makes a dataset (its statistics are returned), the plan has a
fine-tune left (``UsageGate.reserve_finetune``, else 402). Only then is the job submitted with
``JobSubmissionClient``; if submission fails, or the job later fails before training started,
the allowance is given back (once). Jobs carry their tenant in Ray's job metadata, and every
status, log and cancel request checks it: another tenant's job is "not found".
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finetune.dataset import DatasetStats, prepare
from finetune.dialogues import Dialogue
from finetune.spec import JobSpec, base_model, hyperparams
from finetune.train_loop import PROGRESS
from infra.logging import get_logger
from infra.settings import PROJECT_ROOT, get_settings
from personas.adapter_store import AdapterStore
from personas.registry import PersonaRegistry

log = get_logger(__name__)
DASHBOARD_URL = "http://127.0.0.1:8265"
JOB_ID = re.compile(r"^ft-[a-z0-9]{8,32}$")
TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")


class JobNotFound(LookupError):
    pass


class JobsUnavailable(ConnectionError):
    """The cluster's job service (the Ray dashboard) does not answer (HTTP 503)."""


@dataclass(frozen=True)
class Submitted:
    job_id: str
    stats: DatasetStats


def last_progress(logs: str) -> dict | None:
    """The last ``FINETUNE_PROGRESS`` line of a job's logs (step, max_steps, loss, tokens, step_s)."""
    for line in reversed(logs.splitlines()):
        at = line.find(PROGRESS + " ")
        if at >= 0:
            try:
                return json.loads(line[at + len(PROGRESS) + 1 :])
            except ValueError:
                continue
    return None


class FinetuneJobs:
    def __init__(
        self,
        dashboard_url: str = DASHBOARD_URL,
        work_root: Path | None = None,
        database_url: str | None = None,
        profile: str = "cpu",
        gate: Any = None,
        client: Any = None,
        base_models: dict[str, str] | None = None,
    ) -> None:
        """``base_models``: model directories by persona language, instead of the profile's (tests, benchmarks)."""
        settings = get_settings()
        self.dashboard_url, self.profile, self.gate = dashboard_url, profile, gate
        self.work_root = Path(work_root or PROJECT_ROOT / "var" / "finetune")
        self.database_url = database_url
        self.adapters_dir = settings.adapters_dir
        self._client = client
        self.base_models = base_models or {}

    @property
    def client(self) -> Any:
        if self._client is None:
            from ray.job_submission import JobSubmissionClient

            try:
                self._client = JobSubmissionClient(self.dashboard_url)
            except Exception as exc:  # requests' ConnectionError is not the builtin one
                raise JobsUnavailable(f"{self.dashboard_url}: {type(exc).__name__}") from None
        return self._client

    def registry(self, tenant_id: str | None) -> PersonaRegistry:
        return PersonaRegistry(self.database_url, tenant_id, adapters=AdapterStore(self.adapters_dir))

    async def submit(
        self,
        tenant_id: str | None,
        persona: str,
        dialogues: list[Dialogue],
        overrides: dict[str, Any] | None = None,
        base_model_dir: str | None = None,
        mask_personal: bool = True,
    ) -> Submitted:
        """``PersonaNotFound``, ``DatasetError``, ``UsageLimitExceeded`` or ``ValueError`` before anything is spent."""
        found = await self.registry(tenant_id).get(persona)  # PersonaNotFound for another tenant's
        params = hyperparams(self.profile, overrides)
        base = base_model_dir or self.base_models.get(found.language)
        base = base or str(get_settings().resolve_model_path(base_model(self.profile, found.language)))
        dataset = await asyncio.to_thread(prepare, dialogues, mask_personal)
        if not dataset.eval:
            raise ValueError("the material makes a single dialogue: at least two are needed (one is held out)")
        job_id = "ft-" + uuid.uuid4().hex[:12]
        work = self.work_root / job_id
        await asyncio.to_thread(dataset.write, work / "data")
        spec = JobSpec(
            job_id=job_id,
            tenant_id=tenant_id,
            persona=persona,
            base_model=base,
            dataset_dir=str(work / "data"),
            work_dir=str(work),
            storage_path=str(self.work_root / "runs"),
            database_url=self.database_url or get_settings().database_url,
            adapters_dir=str(self.adapters_dir),
            params=params,
        )
        (work / "spec.json").write_text(spec.model_dump_json(indent=1))
        if self.gate is not None and tenant_id is not None:
            try:
                await self.gate.reserve_finetune(tenant_id, job_id)  # UsageLimitExceeded: 402
            except Exception:
                shutil.rmtree(work, ignore_errors=True)
                raise
        try:
            await asyncio.to_thread(
                lambda: self.client.submit_job(
                    entrypoint=f"cd {PROJECT_ROOT} && {sys.executable} -m finetune.job {work}",
                    submission_id=job_id,
                    entrypoint_num_cpus=0,
                    metadata={"tenant": tenant_id or "", "persona": persona, "kind": "finetune"},
                    runtime_env={"env_vars": {"RAY_TRAIN_ENABLE_STATE_TRACKING": "1"}},
                )
            )
        except Exception as exc:  # nothing was submitted: the allowance comes back, the files go
            await self._refund(tenant_id, job_id)
            shutil.rmtree(work, ignore_errors=True)
            if isinstance(exc, JobsUnavailable):
                raise
            raise JobsUnavailable(f"the job was not submitted: {type(exc).__name__}: {str(exc)[:300]}") from exc
        log.info("finetune.submitted", job_id=job_id, tenant=tenant_id, persona=persona, dialogues=dataset.stats.dialogues)
        return Submitted(job_id, dataset.stats)

    async def _info(self, job_id: str, tenant_id: str | None, operator: bool) -> Any:
        if not JOB_ID.fullmatch(job_id):
            raise JobNotFound(job_id)
        client = self.client  # JobsUnavailable when the cluster does not answer
        try:
            info = await asyncio.to_thread(client.get_job_info, job_id)
        except Exception:
            raise JobNotFound(job_id) from None
        metadata = info.metadata or {}
        if metadata.get("kind") != "finetune" or (not operator and metadata.get("tenant") != (tenant_id or "")):
            raise JobNotFound(job_id)  # never another tenant's
        return info

    async def status(self, job_id: str, tenant_id: str | None, operator: bool = False) -> dict:
        info = await self._info(job_id, tenant_id, operator)
        work = self.work_root / job_id
        state = _read(work / "status.json") or {"stage": "queued", "timings_s": {}}
        result = _read(work / "result.json")
        status = str(info.status.value if hasattr(info.status, "value") else info.status)
        logs = await asyncio.to_thread(self.client.get_job_logs, job_id)
        if status in ("FAILED", "STOPPED") and "train" not in state.get("timings_s", {}) and state["stage"] != "train":
            await self._refund(info.metadata.get("tenant") or None, job_id)  # nothing trained: the allowance comes back
        return {
            "job_id": job_id,
            "status": status,
            "persona": info.metadata.get("persona"),
            "stage": state.get("stage"),
            "timings_s": state.get("timings_s", {}),
            "progress": last_progress(logs),
            "stats": _read(work / "data" / "stats.json"),
            "result": result,
            "message": info.message,
        }

    async def list(self, tenant_id: str | None, operator: bool = False, limit: int = 50) -> list[dict]:
        """The tenant's fine-tuning jobs, newest first (the console's job list): id, persona, status, times."""
        jobs = await asyncio.to_thread(self.client.list_jobs)
        mine = [
            j
            for j in jobs
            if j.submission_id
            and (j.metadata or {}).get("kind") == "finetune"
            and (operator or (j.metadata or {}).get("tenant") == (tenant_id or ""))
        ]
        mine.sort(key=lambda j: j.start_time or 0, reverse=True)
        return [
            {
                "job_id": j.submission_id,
                "persona": (j.metadata or {}).get("persona"),
                "status": str(j.status.value if hasattr(j.status, "value") else j.status),
                "started_at": (j.start_time or 0) / 1000 or None,
                "ended_at": (j.end_time or 0) / 1000 or None,
            }
            for j in mine[:limit]
        ]

    async def logs(self, job_id: str, tenant_id: str | None, operator: bool = False) -> str:
        await self._info(job_id, tenant_id, operator)
        return await asyncio.to_thread(self.client.get_job_logs, job_id)

    async def cancel(self, job_id: str, tenant_id: str | None, operator: bool = False) -> bool:
        await self._info(job_id, tenant_id, operator)
        return bool(await asyncio.to_thread(self.client.stop_job, job_id))

    async def _refund(self, tenant_id: str | None, job_id: str) -> None:
        if self.gate is not None and tenant_id:
            try:
                if await self.gate.release_finetune(tenant_id, job_id):
                    log.info("finetune.allowance_returned", job_id=job_id, tenant=tenant_id)
            except Exception as exc:
                log.warning("finetune.refund_failed", job_id=job_id, error=type(exc).__name__)


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
