"""Who may call the admin API: the one hook every admin route depends on.

Until accounts arrive (billing issue: users, roles, JWT sessions, per-tenant API keys), the admin
API takes a single bearer token from settings. Without a configured token it refuses everything
(401), so a fresh install is never open. Replace :func:`require_admin` and every route follows.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header

from infra.http_errors import APIError
from infra.settings import get_settings


@dataclass(frozen=True)
class Principal:
    subject: str
    tenant_id: str | None = None  # None: the single-tenant installation


def require_admin(authorization: Annotated[str | None, Header()] = None) -> Principal:
    token = get_settings().admin_token
    scheme, _, presented = (authorization or "").partition(" ")
    if not token:
        raise APIError(401, "the admin API has no credentials configured (set SECRETARY_ADMIN_TOKEN)",
                       code="admin_disabled")
    if scheme.lower() != "bearer" or not presented:
        raise APIError(401, "send the admin token as 'Authorization: Bearer <token>'", code="missing_credentials")
    if not hmac.compare_digest(presented.encode(), token.encode()):
        raise APIError(401, "the admin token is not valid", code="invalid_credentials")
    return Principal("admin")


Admin = Annotated[Principal, Depends(require_admin)]
