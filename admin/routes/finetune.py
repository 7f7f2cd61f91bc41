"""Fine-tuning from the admin API: preview a dataset, submit a job, watch it, cancel it; versions and rollback.

Everything is scoped to the caller's tenant: a job is submitted only for the caller's own persona,
and another tenant's job id is "not found" (the job's tenant is in Ray's job metadata). The
material is uploaded (a Telegram export or chat JSONL) or taken from consenting callers' calls.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, UploadFile

from admin.dependencies import Finetune, Personas
from finetune.dialogues import DatasetError
from finetune.jobs import JobNotFound
from infra.auth import Admin, Principal, Reader
from infra.http_errors import APIError
from personas.registry import PersonaNotFound

router = APIRouter(tags=["finetune"])
Source = Literal["telegram", "jsonl", "calls"]


async def _dialogues(source: str, upload: UploadFile | None, owner: str | None, jobs: Any, tenant: str | None) -> list:
    if source == "calls":
        from finetune.sources.calls import dialogues_from_calls

        return await dialogues_from_calls(jobs.database_url, tenant)
    if upload is None:
        raise APIError(400, f"a {source} dataset needs a file", param="file")
    raw = await upload.read()
    if source == "telegram":
        from finetune.sources.telegram import dialogues_from_export

        return await asyncio.to_thread(dialogues_from_export, raw, owner)  # megabytes: not on the event loop
    from finetune.sources.chat_jsonl import dialogues_from_jsonl

    return await asyncio.to_thread(dialogues_from_jsonl, raw)


def _dataset_error(exc: Exception) -> APIError:
    return APIError(400, str(exc), param=getattr(exc, "field", None) or "file", code="dataset_invalid")


@router.post("/finetune/preview")
async def preview(
    principal: Admin,
    jobs: Finetune,
    source: Annotated[Source, Form()],
    file: Annotated[UploadFile | None, File()] = None,
    owner: Annotated[str | None, Form(max_length=100)] = None,
) -> dict:
    """The dataset's statistics, before anything is spent."""
    from finetune.dataset import prepare

    try:
        dialogues = await _dialogues(source, file, owner, jobs, principal.tenant_id)
        return {"stats": asdict((await asyncio.to_thread(prepare, dialogues)).stats)}
    except DatasetError as exc:
        raise _dataset_error(exc) from None


@router.post("/finetune/jobs", status_code=202)
async def submit(
    principal: Admin,
    jobs: Finetune,
    persona: Annotated[str, Form(min_length=2, max_length=32)],
    source: Annotated[Source, Form()],
    file: Annotated[UploadFile | None, File()] = None,
    owner: Annotated[str | None, Form(max_length=100)] = None,
    params: Annotated[str | None, Form(max_length=2000, description="hyper-parameters as JSON")] = None,
) -> dict:
    try:
        overrides = json.loads(params) if params else None
        if overrides is not None and not isinstance(overrides, dict):
            raise ValueError("params must be a JSON object")
    except ValueError as exc:
        raise APIError(400, f"params: {exc}", param="params") from None
    try:
        dialogues = await _dialogues(source, file, owner, jobs, principal.tenant_id)
        submitted = await jobs.submit(principal.tenant_id, persona, dialogues, overrides)
    except PersonaNotFound:
        raise APIError(404, f"no persona {persona!r}", param="persona", code="persona_not_found") from None
    except DatasetError as exc:
        raise _dataset_error(exc) from None
    except ValueError as exc:  # hyper-parameters out of range, a single dialogue
        raise APIError(400, str(exc), param="params") from None
    except ConnectionError as exc:
        raise _unavailable(exc) from None
    return {"job_id": submitted.job_id, "stats": asdict(submitted.stats)}


def _unavailable(exc: Exception) -> APIError:
    return APIError(503, f"the cluster's job service is not reachable: {exc}", code="jobs_unavailable")


def _operator(principal: Principal) -> bool:
    return principal.tenant_id is None


async def _on_job(principal: Principal, job_id: str, action: Awaitable[Any]) -> Any:
    """One job's answer, with the errors every job route shares: 404 (none, or another tenant's), 503."""
    try:
        return await action
    except JobNotFound:
        raise APIError(404, f"no job {job_id!r}", param="job_id", code="not_found") from None
    except ConnectionError as exc:
        raise _unavailable(exc) from None


@router.get("/finetune/jobs")
async def list_jobs(principal: Reader, jobs: Finetune) -> dict:
    """The caller's tenant's jobs, newest first (the operator's: all)."""
    try:
        return {"items": await jobs.list(principal.tenant_id, _operator(principal))}
    except ConnectionError as exc:
        raise _unavailable(exc) from None


@router.get("/finetune/jobs/{job_id}")
async def status(principal: Reader, jobs: Finetune, job_id: str) -> dict:
    return await _on_job(principal, job_id, jobs.status(job_id, principal.tenant_id, _operator(principal)))


@router.get("/finetune/jobs/{job_id}/logs")
async def logs(principal: Reader, jobs: Finetune, job_id: str) -> dict:
    return {"logs": await _on_job(principal, job_id, jobs.logs(job_id, principal.tenant_id, _operator(principal)))}


@router.post("/finetune/jobs/{job_id}/cancel")
async def cancel(principal: Admin, jobs: Finetune, job_id: str) -> dict:
    stopping = await _on_job(principal, job_id, jobs.cancel(job_id, principal.tenant_id, _operator(principal)))
    return {"stopping": stopping}


@router.get("/personas/{name}/adapter/versions")
async def versions(principal: Reader, registry: Personas, name: str) -> dict:
    from finetune.versions import AdapterVersions

    try:
        await registry.get(name)
    except PersonaNotFound:
        raise APIError(404, f"no persona {name!r}", param="name", code="persona_not_found") from None
    items = await AdapterVersions(registry.url, principal.tenant_id).list(name)
    return {"items": [{**asdict(v), "created_at": v.created_at.isoformat()} for v in items]}


@router.post("/personas/{name}/adapter/rollback")
async def rollback(principal: Admin, registry: Personas, name: str) -> dict:
    """Back to the previous published version (or the base model when there is none)."""
    from finetune.publish import roll_back
    from finetune.versions import AdapterVersions

    try:
        adapter = await roll_back(registry, AdapterVersions(registry.url, principal.tenant_id), name)
    except PersonaNotFound:
        raise APIError(404, f"no persona {name!r}", param="name", code="persona_not_found") from None
    except LookupError as exc:
        raise APIError(409, str(exc), param="name", code="no_adapter") from None
    return {"adapter": adapter}


@router.post("/personas/{name}/adapter/versions/{version}/publish")
async def use_version(principal: Admin, registry: Personas, name: str, version: int) -> dict:
    """Serve this stored version again (after a rollback, or an older one); its files are checked first."""
    from finetune.publish import use_version as serve_version
    from finetune.versions import AdapterVersions

    try:
        adapter = await serve_version(registry, AdapterVersions(registry.url, principal.tenant_id), name, version)
    except PersonaNotFound:
        raise APIError(404, f"no persona {name!r}", param="name", code="persona_not_found") from None
    except LookupError as exc:
        raise APIError(404, str(exc), param="version", code="not_found") from None
    except ValueError as exc:
        raise APIError(
            409, f"version {version} cannot be served: {exc}", param="version", code="adapter_path_invalid"
        ) from None
    return {"adapter": adapter}
