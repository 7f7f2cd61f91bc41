"""The HTTP face of the gate's refusals, shared by every app that consults it (ingress, admin).

Over a limit is HTTP 402 with the body the billing issue specifies (``error``, ``limit``,
``used``, ``upgrade_url``, plus ``metric`` and a ``message``); no serving subscription is 402
``subscription_required``; metering that cannot reach Redis is 503: the gate fails closed and
says why, rather than serve work it cannot count.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from billing.gate import SubscriptionRequired, UsageLimitExceeded
from infra.http_errors import error_response
from infra.logging import get_logger

log = get_logger(__name__)


def limit_response(exc: UsageLimitExceeded | SubscriptionRequired) -> JSONResponse:
    """HTTP 402 with the body the billing issue specifies: what ran out, how much, where to upgrade."""
    if isinstance(exc, UsageLimitExceeded):
        body: dict[str, Any] = {
            "error": "usage_limit_exceeded",
            "message": str(exc),
            "metric": exc.metric,
            "limit": exc.limit,
            "used": exc.used,
            "upgrade_url": exc.upgrade_url,
        }
    else:
        body = {
            "error": "subscription_required",
            "message": f"{exc}; choose a plan",
            "status": exc.status,
            "upgrade_url": exc.upgrade_url,
        }
    return JSONResponse(body, status_code=402)


def install_usage_handlers(app: FastAPI) -> None:
    """402 for limits, 503 when metering itself (Redis) cannot be reached: fail closed, say why."""
    from redis.exceptions import RedisError

    @app.exception_handler(UsageLimitExceeded)
    async def _limit(_req: Request, exc: UsageLimitExceeded) -> JSONResponse:
        return limit_response(exc)

    @app.exception_handler(SubscriptionRequired)
    async def _subscription(_req: Request, exc: SubscriptionRequired) -> JSONResponse:
        return limit_response(exc)

    @app.exception_handler(RedisError)
    async def _metering_down(_req: Request, exc: RedisError) -> JSONResponse:
        log.error("usage.metering_unavailable", error=type(exc).__name__)
        return error_response(503, "usage metering is unavailable; retry shortly", code="metering_unavailable")
