"""Who may call the admin API: the one hook every admin route depends on.

Two credentials are accepted as ``Authorization: Bearer …``:

- a session token (JWT, HS256, ``SECRETARY_JWT_SECRET``) issued to an account's user at sign-in
  (``accounts/``); it names the user, the tenant and the role, and expires;
- the installation's operator token (``SECRETARY_ADMIN_TOKEN``), for bootstrap and single-tenant
  installs.

Without either configured every route refuses (401), so a fresh install is never open.

Two levels: ``Reader`` (any signed-in role, viewers included) guards what only shows, and
``Admin`` (owners and admins) guards what changes something, spends money or reveals a secret.
A viewer who reaches an ``Admin`` route gets 403, whatever the console shows.
"""

from __future__ import annotations

import hmac
import time
import uuid
from dataclasses import dataclass
from typing import Annotated

import jwt
from fastapi import Depends, Header

from infra.http_errors import APIError
from infra.settings import get_settings

ISSUER = "secretary"
ADMIN_ROLES = ("owner", "admin")
READER_ROLES = ("owner", "admin", "viewer")


@dataclass(frozen=True)
class Principal:
    subject: str
    tenant_id: str | None = None  # None: the operator of a single-tenant installation
    role: str = "operator"


class InvalidToken(ValueError):
    pass


def issue_session_token(subject: str, tenant_id: str, role: str, ttl_s: int | None = None) -> str:
    settings = get_settings()
    if not settings.jwt_secret:
        raise RuntimeError("sessions need SECRETARY_JWT_SECRET")
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": subject,
        "tid": tenant_id,
        "role": role,
        "iat": now,
        "exp": now + (ttl_s if ttl_s is not None else settings.jwt_ttl_s),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


def decode_session_token(token: str) -> Principal:
    secret = get_settings().jwt_secret
    if not secret:
        raise InvalidToken("sessions are not configured")
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], issuer=ISSUER, options={"require": ["exp", "iat", "sub", "iss"]}
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("the session has expired; sign in again") from None
    except jwt.PyJWTError:
        raise InvalidToken("the session token is not valid") from None
    return Principal(claims["sub"], claims.get("tid"), claims.get("role", "viewer"))


def _principal(authorization: str | None, roles: tuple[str, ...]) -> Principal:
    settings = get_settings()
    scheme, _, presented = (authorization or "").partition(" ")
    if not settings.admin_token and not settings.jwt_secret:
        raise APIError(
            401,
            "the admin API has no credentials configured (set SECRETARY_ADMIN_TOKEN or SECRETARY_JWT_SECRET)",
            code="admin_disabled",
        )
    if scheme.lower() != "bearer" or not presented:
        raise APIError(401, "send a session or admin token as 'Authorization: Bearer <token>'", code="missing_credentials")
    if settings.admin_token and hmac.compare_digest(presented.encode(), settings.admin_token.encode()):
        return Principal("admin")
    if settings.jwt_secret and presented.count(".") == 2:
        try:
            principal = decode_session_token(presented)
        except InvalidToken as exc:
            raise APIError(401, str(exc), code="invalid_credentials") from None
        if principal.role not in roles:
            raise APIError(403, f"the role {principal.role!r} may not do this", code="forbidden")
        return principal
    raise APIError(401, "the token is not valid", code="invalid_credentials")


def require_admin(authorization: Annotated[str | None, Header()] = None) -> Principal:
    """An owner or admin (or the operator): for what changes something."""
    return _principal(authorization, ADMIN_ROLES)


def require_reader(authorization: Annotated[str | None, Header()] = None) -> Principal:
    """Any signed-in role, viewers included (or the operator): for what only shows."""
    return _principal(authorization, READER_ROLES)


def require_owner(authorization: Annotated[str | None, Header()] = None) -> Principal:
    """The account's owner (or the operator): who may add and remove the account's users."""
    return _principal(authorization, ("owner",))


Admin = Annotated[Principal, Depends(require_admin)]
Reader = Annotated[Principal, Depends(require_reader)]
Owner = Annotated[Principal, Depends(require_owner)]
