"""Usage for the charts: a month's totals and day-by-day series, for the caller's tenant."""

from __future__ import annotations

import re

from fastapi import APIRouter, Query

from admin.dependencies import Store
from billing.metering import METRICS, UsageLedger, period_of
from infra.auth import Reader
from infra.http_errors import APIError

router = APIRouter(prefix="/usage", tags=["usage"])
PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@router.get("/stats")
async def usage_stats(
    principal: Reader,
    store: Store,
    period: str | None = Query(default=None),
    tenant: str | None = Query(default=None, max_length=64),
) -> dict:
    """A signed-in user sees their own tenant; the operator names one (``tenant``)."""
    period = period or period_of()
    if not PERIOD.match(period):
        raise APIError(400, "period is YYYY-MM", param="period")
    if principal.tenant_id is not None:
        if tenant not in (None, principal.tenant_id):
            raise APIError(404, "no such tenant", param="tenant", code="not_found")  # never another tenant's
        tenant = principal.tenant_id
    if tenant is None:
        raise APIError(400, "name the tenant (?tenant=…)", param="tenant")
    ledger = UsageLedger(store.url)  # the admin app's database
    daily = {m: [{"day": d, "amount": a} for d, a in (await ledger.daily(tenant, m, period)).items()] for m in METRICS}
    return {"tenant_id": tenant, "period": period, "totals": await ledger.totals(tenant, period), "daily": daily}
