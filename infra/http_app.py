"""The shape every plain HTTP app of the cluster shares: one error format, hardening, a liveness probe."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter, FastAPI

from infra.http_errors import install_error_handlers
from infra.http_hardening import install_hardening
from infra.settings import __version__


def service_app(title: str, description: str, routers: Iterable[APIRouter]) -> FastAPI:
    """A FastAPI app with the shared error shape, rate limits, CORS, security headers and ``/healthz``."""
    app = FastAPI(title=title, version=__version__, description=description)
    install_error_handlers(app)
    install_hardening(app)
    for router in routers:
        app.include_router(router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict:
        return {"status": "ok"}

    return app
