"""The shape every plain HTTP app of the cluster shares: one error format, hardening, a liveness probe."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter, FastAPI

from infra.http_errors import install_error_handlers
from infra.http_hardening import install_hardening
from infra.production import enforce
from infra.settings import Settings, __version__, get_settings


def docs_urls(settings: Settings) -> dict[str, str | None]:
    """FastAPI's docs and schema routes, or none of them (``api_docs=false``; production requires it)."""
    if settings.api_docs:
        return {}
    return {"docs_url": None, "redoc_url": None, "openapi_url": None}


def service_app(title: str, description: str, routers: Iterable[APIRouter], rate_limited: bool = True) -> FastAPI:
    """A FastAPI app with the shared error shape, rate limits, CORS, security headers and ``/healthz``.

    Refuses to build under ``production=true`` with insecure settings (``infra/production.py``)."""
    settings = get_settings()
    enforce(settings)
    app = FastAPI(title=title, version=__version__, description=description, **docs_urls(settings))
    install_error_handlers(app)
    install_hardening(app, rate_limited=rate_limited)
    for router in routers:
        app.include_router(router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict:
        return {"status": "ok"}

    return app
