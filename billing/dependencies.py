"""What the billing routes depend on, as ``Annotated`` aliases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends

from accounts.service import AccountService
from billing.plans import Catalogue
from billing.subscriptions import SubscriptionStore
from infra.auth import Principal, require_admin, require_reader
from infra.http_errors import APIError


@dataclass
class BillingServices:
    accounts: AccountService
    plans: Catalogue
    subscriptions: SubscriptionStore
    stripe: Any = None  # billing.stripe_billing.StripeBilling, or None when not configured
    yookassa: Any = None  # billing.yookassa_billing.YooKassaBilling, or None when not configured
    gate: Any = None  # billing.gate.UsageGate, or None when metering is off
    lifecycle: Any = None  # billing.lifecycle.BillingLifecycle: expires, lapses, renews in the background
    sweep_interval_s: float = 300.0
    login_throttle: Any = None  # accounts.login_throttle.LoginThrottle: failed sign-ins per account
    retention: Any = None  # privacy.retention.Retention: per-tenant periods, swept in the background
    _retention_sweep: Any = None

    def privacy(self, tenant_id: str | None) -> Any:
        """Consent and erasure for one tenant, on the app's database (the operator's: every tenant's)."""
        from privacy.service import PrivacyService

        return PrivacyService(self.subscriptions.url, tenant_id, everywhere=tenant_id is None)

    def retention_for(self) -> Any:
        """Retention periods on the app's database (the configured one, or a default for tests)."""
        if self.retention is None:
            from privacy.retention import Retention

            self.retention = Retention(self.subscriptions.url)
        return self.retention


_services: BillingServices | None = None


def bind(services: BillingServices | None) -> None:
    global _services
    _services = services


def get_services() -> BillingServices:
    if _services is None:
        raise RuntimeError("the billing app has no services bound")
    if _services.lifecycle is not None:
        _services.lifecycle.start(_services.sweep_interval_s)  # once, in the replica's event loop
    if _services.retention is not None:
        if _services._retention_sweep is None:
            from infra.periodic import Periodic

            _services._retention_sweep = Periodic("retention-sweep", _services.retention.sweep, _services.sweep_interval_s)
        _services._retention_sweep.start()
    return _services


def require_tenant(principal: Annotated[Principal, Depends(require_admin)]) -> Principal:
    """An account's owner or admin (a session token); the operator token names no tenant."""
    if principal.tenant_id is None:
        raise APIError(403, "this route acts for a tenant: sign in as its owner or admin", code="tenant_required")
    return principal


Services = Annotated[BillingServices, Depends(get_services)]
TenantUser = Annotated[Principal, Depends(require_tenant)]


def require_tenant_reader(principal: Annotated[Principal, Depends(require_reader)]) -> Principal:
    """Any of a tenant's users, viewers included: for what only shows (plan, invoices, usage)."""
    if principal.tenant_id is None:
        raise APIError(403, "this route acts for a tenant: sign in as one of its users", code="tenant_required")
    return principal


TenantReader = Annotated[Principal, Depends(require_tenant_reader)]
