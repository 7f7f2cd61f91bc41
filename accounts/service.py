"""Account operations, every one scoped to a tenant: sign-up, sign-in, API keys.

API keys are random (32 bytes), so a fast hash (SHA-256) is enough to store them; passwords are
chosen by people, so they get Argon2id. A key is shown once, when it is made.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from accounts.models import ROLES, ApiKeyRow, TenantRow, UserRow
from accounts.passwords import hash_password, needs_rehash, verify_password
from infra.auth import Principal
from infra.database import session_factory, transaction, utcnow

# Verifying against this keeps a sign-in for an unknown e-mail as slow as for a known one.
_DUMMY_HASH = hash_password("not-a-real-password-0000")


class AccountError(ValueError):
    pass


class InvalidCredentials(AccountError):
    pass


@dataclass(frozen=True)
class User:
    id: str
    tenant_id: str
    email: str
    role: str


@dataclass(frozen=True)
class ApiKeyInfo:
    id: str
    name: str
    prefix: str
    created_at: datetime
    revoked: bool


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _user(row: UserRow) -> User:
    return User(row.id, row.tenant_id, row.email, row.role)


class AccountService:
    def __init__(self, url: str | None = None) -> None:
        self.url = url

    async def create_tenant(self, name: str, owner_email: str, owner_password: str) -> tuple[str, User]:
        """A business and its owner, in one transaction."""
        tenant_id = uuid.uuid4().hex
        password_hash = await asyncio.to_thread(hash_password, owner_password)  # ~50 ms of one core
        try:
            async with transaction(self.url) as s:
                s.add(TenantRow(id=tenant_id, name=name, created_at=utcnow()))
                await s.flush()
                row = UserRow(
                    id=uuid.uuid4().hex,
                    tenant_id=tenant_id,
                    email=owner_email.strip().lower(),
                    password_hash=password_hash,
                    role="owner",
                    created_at=utcnow(),
                )
                s.add(row)
        except IntegrityError:
            raise AccountError(f"{owner_email} already has an account") from None
        return tenant_id, _user(row)

    async def add_user(self, tenant_id: str, email: str, password: str, role: str) -> User:
        if role not in ROLES:
            raise AccountError(f"role must be one of {ROLES}")
        row = UserRow(
            id=uuid.uuid4().hex,
            tenant_id=tenant_id,
            email=email.strip().lower(),
            password_hash=await asyncio.to_thread(hash_password, password),
            role=role,
            created_at=utcnow(),
        )
        try:
            async with transaction(self.url) as s:
                s.add(row)
        except IntegrityError:
            raise AccountError(f"{email} already has an account") from None
        return _user(row)

    async def user(self, user_id: str) -> tuple[User, str] | None:
        """The user and their business's name (the console's header), if the account is still enabled."""
        async with session_factory(self.url)() as s:
            found = (
                await s.execute(
                    select(UserRow, TenantRow.name)
                    .join(TenantRow, TenantRow.id == UserRow.tenant_id)
                    .where(UserRow.id == user_id, UserRow.disabled.is_(False))
                )
            ).one_or_none()
        return (_user(found[0]), found[1]) if found else None

    async def members(self, tenant_id: str) -> list[dict]:
        """The tenant's users (enabled and disabled), oldest first."""
        async with session_factory(self.url)() as s:
            rows = (
                (await s.execute(select(UserRow).where(UserRow.tenant_id == tenant_id).order_by(UserRow.created_at)))
                .scalars()
                .all()
            )
        return [
            {"id": r.id, "email": r.email, "role": r.role, "disabled": r.disabled, "created_at": r.created_at.isoformat()}
            for r in rows
        ]

    async def disable_user(self, tenant_id: str, user_id: str) -> bool:
        """Stops a member signing in; the owner cannot be removed. False: no such member of this tenant."""
        async with transaction(self.url) as s:
            done = await s.execute(
                update(UserRow)
                .where(UserRow.id == user_id, UserRow.tenant_id == tenant_id, UserRow.role != "owner")
                .values(disabled=True)
            )
        return done.rowcount > 0

    async def authenticate(self, email: str, password: str) -> User:
        """The user whose password this is. Argon2 runs in a worker thread (it is tens of
        milliseconds of CPU: on the event loop it would stall every other request), and no
        database transaction is held open while it runs."""
        async with session_factory(self.url)() as s:
            row = (await s.execute(select(UserRow).where(UserRow.email == email.strip().lower()))).scalar_one_or_none()
        if row is None:
            await asyncio.to_thread(verify_password, _DUMMY_HASH, password)  # the same time as a real check
            raise InvalidCredentials("wrong e-mail or password")
        if not await asyncio.to_thread(verify_password, row.password_hash, password) or row.disabled:
            raise InvalidCredentials("wrong e-mail or password")
        if needs_rehash(row.password_hash):
            rehashed = await asyncio.to_thread(hash_password, password)
            async with transaction(self.url) as s:
                await s.execute(update(UserRow).where(UserRow.id == row.id).values(password_hash=rehashed))
        return _user(row)

    async def issue_api_key(self, tenant_id: str, name: str) -> tuple[ApiKeyInfo, str]:
        """Returns the key's record and the key itself, which is never shown again."""
        prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        row = ApiKeyRow(
            id=uuid.uuid4().hex,
            tenant_id=tenant_id,
            prefix=prefix,
            secret_hash=_sha256(secret),
            name=name,
            created_at=utcnow(),
        )
        async with transaction(self.url) as s:
            s.add(row)
        return ApiKeyInfo(row.id, name, prefix, row.created_at, False), f"sk_{prefix}_{secret}"

    async def verify_api_key(self, key: str) -> Principal:
        kind, _, rest = key.partition("_")
        prefix, _, secret = rest.partition("_")
        if kind != "sk" or not prefix or not secret:
            raise InvalidCredentials("not an API key")
        async with session_factory(self.url)() as s:
            row = (await s.execute(select(ApiKeyRow).where(ApiKeyRow.prefix == prefix))).scalar_one_or_none()
        if row is None or row.revoked_at is not None or not hmac.compare_digest(row.secret_hash, _sha256(secret)):
            raise InvalidCredentials("the API key is not valid")
        return Principal(f"api_key:{row.id}", row.tenant_id, "api")

    async def list_api_keys(self, tenant_id: str) -> list[ApiKeyInfo]:
        async with session_factory(self.url)() as s:
            rows = (
                await s.execute(select(ApiKeyRow).where(ApiKeyRow.tenant_id == tenant_id).order_by(ApiKeyRow.created_at))
            ).scalars()
            return [ApiKeyInfo(r.id, r.name, r.prefix, r.created_at, r.revoked_at is not None) for r in rows]

    async def revoke_api_key(self, tenant_id: str, key_id: str) -> None:
        """Only the key's own tenant can revoke it; another tenant's key id is 'not found'."""
        async with transaction(self.url) as s:
            row = await s.get(ApiKeyRow, key_id)
            if row is None or row.tenant_id != tenant_id:
                raise AccountError("no such API key")
            row.revoked_at = row.revoked_at or utcnow()

    async def contacts(self, tenant_id: str) -> list[str]:
        """The e-mail addresses that hear about the tenant's account (its owners and admins)."""
        q = (
            select(UserRow.email)
            .where(UserRow.tenant_id == tenant_id, UserRow.role.in_(("owner", "admin")), UserRow.disabled.is_(False))
            .order_by(UserRow.created_at)
        )
        async with session_factory(self.url)() as s:
            return list((await s.execute(q)).scalars())
