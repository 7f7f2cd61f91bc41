"""Liveness and readiness probes (Kubernetes and `make demo` wait on /readyz)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from deployments.ingress.dependencies import Models

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict:
    """The ingress process answers: nothing more is checked."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(models: Models) -> JSONResponse:
    """Every model deployment answers within 10 s."""
    handles = {
        "stt": models.stt,
        "tts": models.tts,
        "llm": models.llm,
        **{f"llm-{lang}": e["handle"] for lang, e in models.language_llms.items()},
    }
    names = tuple(handles)
    results = await asyncio.gather(*(asyncio.wait_for(handles[n].ready.remote(), 10) for n in names), return_exceptions=True)
    checks = {n: ("ok" if r is True else f"unavailable: {type(r).__name__}") for n, r in zip(names, results, strict=True)}
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503)
