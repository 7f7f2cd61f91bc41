"""``GET /billing/usage``: this month's use against the plan's limits, for the caller's tenant."""

from __future__ import annotations

from fastapi import APIRouter

from billing.dependencies import Services, TenantReader
from billing.gate import SubscriptionRequired
from infra.http_errors import APIError

router = APIRouter(prefix="/usage", tags=["usage"])


@router.get("")
async def current_usage(user: TenantReader, services: Services) -> dict:
    """Per metric: ``used`` and ``limit`` (null: unlimited) in the metric's unit (ms, tokens, jobs)."""
    if services.gate is None:
        raise APIError(503, "usage metering is off on this installation", code="metering_off")
    try:
        return await services.gate.usage(user.tenant_id)
    except SubscriptionRequired as exc:
        return {"plan": None, "status": exc.status, "upgrade_url": exc.upgrade_url, "metrics": {}}
