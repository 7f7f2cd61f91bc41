"""Privacy: the policy (public), consent records, erasure of a caller's data, the audit log."""

from __future__ import annotations

from dataclasses import asdict
from typing import Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from billing.dependencies import Services
from infra.auth import Admin
from infra.http_errors import APIError
from privacy.policy import load_policy

router = APIRouter(tags=["privacy"])
# As people write numbers: "+7 (916) 123-45-67", "8 916 123 45 67"; matched in normal form (infra/pii.py).
Number = Field(min_length=3, max_length=30, pattern=r"^\+?[0-9][0-9 ()\-.]{2,28}$")


class ConsentIn(BaseModel):
    number: str = Number
    kind: Literal["voice_processing", "call_recording"]
    granted: bool
    text_version: str = Field(min_length=1, max_length=32)
    channel: Literal["call", "sms", "web", "admin"] = "admin"


class ErasureIn(BaseModel):
    number: str = Number


@router.get("/privacy-policy")
async def privacy_policy(language: str = Query(default="ru", pattern=r"^[a-z]{2}$")) -> dict:
    policy = load_policy()
    text = policy["texts"].get(language)
    if text is None:
        raise APIError(404, f"no policy text in {language!r}; available: {', '.join(policy['texts'])}", param="language")
    return {"version": policy["version"], "language": language, "text": text}


@router.post("/privacy/consents", status_code=201)
async def record_consent(body: ConsentIn, principal: Admin, services: Services) -> dict:
    consent = await services.privacy(principal.tenant_id).record_consent(
        body.number, body.kind, body.granted, body.text_version, body.channel
    )
    return {**asdict(consent), "at": consent.at.isoformat()}


@router.get("/privacy/consents")
async def consents(principal: Admin, services: Services, number: str = Query(min_length=3, max_length=30)) -> dict:
    found = await services.privacy(principal.tenant_id).consents(number)
    return {"items": [{**asdict(c), "at": c.at.isoformat()} for c in found.values()]}


@router.post("/privacy/erasure")
async def erase(body: ErasureIn, principal: Admin, services: Services) -> dict:
    """Everything about this caller goes; one audit entry stays."""
    result = await services.privacy(principal.tenant_id).erase(body.number, actor=principal.subject)
    return {"erased": asdict(result)}


class RetentionIn(BaseModel):
    days: int = Field(ge=1, le=3650, description="Recordings, transcripts and SMS bodies older than this are deleted.")


@router.get("/privacy/retention")
async def retention(principal: Admin, services: Services) -> dict:
    days, own = await services.retention_for().days(principal.tenant_id)
    return {"days": days, "default": not own}


@router.put("/privacy/retention")
async def set_retention(body: RetentionIn, principal: Admin, services: Services) -> dict:
    await services.retention_for().set_days(principal.tenant_id, body.days)
    return {"days": body.days, "default": False}


@router.get("/privacy/audit")
async def audit(principal: Admin, services: Services) -> dict:
    return {"items": await services.privacy(principal.tenant_id).audit()}
