"""Who may call ``/v1``: a tenant's API key (``Authorization: Bearer sk_…``), on every route.

Keys are made at ``POST /billing/api-keys`` (shown once, stored hashed, revocable). The verified
principal (its tenant) is kept on the request for metering. A WebSocket cannot always set
headers (browsers), so ``/v1/calls/stream`` also takes the key as ``?api_key=``.

The console signs its own ``/v1`` calls (voice preview, test chat, test call) with the owner's or
an admin's session token instead: a session is a tenant's credential already, and a key made
for the browser would be a secret left lying in it. A viewer's session is refused (403).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from accounts.service import AccountService, InvalidCredentials
from infra.auth import ADMIN_ROLES, InvalidToken, Principal, decode_session_token
from infra.http_errors import APIError

_accounts: AccountService | None = None


def bind_accounts(accounts: AccountService | None) -> None:
    global _accounts
    _accounts = accounts


def get_accounts() -> AccountService:
    global _accounts
    if _accounts is None:
        _accounts = AccountService()
    return _accounts


async def verify_key(key: str | None) -> Principal:
    """The key's tenant, or a 401 that says what to send."""
    if not key:
        raise APIError(
            401,
            "send an API key as 'Authorization: Bearer sk_…' (make one at POST /billing/api-keys)",
            code="missing_api_key",
        )
    if key.count(".") == 2 and not key.startswith("sk_"):
        try:
            principal = decode_session_token(key)
        except InvalidToken as exc:
            raise APIError(401, str(exc), code="invalid_api_key") from None
        if principal.role not in ADMIN_ROLES or principal.tenant_id is None:
            raise APIError(403, f"the role {principal.role!r} may not use /v1", code="forbidden")
        return principal
    try:
        return await get_accounts().verify_api_key(key)
    except InvalidCredentials:
        raise APIError(401, "the API key is not valid or was revoked", code="invalid_api_key") from None


def bearer(authorization: str | None) -> str | None:
    scheme, _, value = (authorization or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def require_api_key(request: Request, authorization: Annotated[str | None, Header()] = None) -> Principal:
    principal = await verify_key(bearer(authorization))
    request.state.principal = principal
    return principal


ApiCaller = Annotated[Principal, Depends(require_api_key)]
