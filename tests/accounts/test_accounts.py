"""Accounts on SQLite and PostgreSQL: Argon2id passwords, sessions, API keys scoped to their tenant."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from accounts.service import AccountError, AccountService, InvalidCredentials
from infra.auth import InvalidToken, decode_session_token, issue_session_token, require_admin
from infra.database import session_factory, upgrade
from infra.http_errors import APIError
from infra.settings import get_settings

PASSWORD = "correct horse battery"


@pytest.fixture
async def accounts(db_url):
    await upgrade(db_url)
    return AccountService(db_url)


@pytest.fixture
def jwt_secret(monkeypatch):
    monkeypatch.setenv("SECRETARY_JWT_SECRET", "test-jwt-secret-with-enough-bytes-0123456789")
    monkeypatch.delenv("SECRETARY_ADMIN_TOKEN", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def test_passwords_are_stored_as_argon2id_and_checked(accounts, db_url):
    tenant, owner = await accounts.create_tenant("Dental clinic", "Owner@Clinic.ru", PASSWORD)
    assert owner.role == "owner" and owner.email == "owner@clinic.ru"
    async with session_factory(db_url)() as s:
        stored = (await s.execute(text("select password_hash from users"))).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert (await accounts.authenticate("owner@clinic.ru", PASSWORD)).tenant_id == tenant
    for email, password in (("owner@clinic.ru", "wrong password!"), ("nobody@x.ru", PASSWORD)):
        with pytest.raises(InvalidCredentials):
            await accounts.authenticate(email, password)
    with pytest.raises(AccountError):
        await accounts.create_tenant("Again", "owner@clinic.ru", PASSWORD)
    with pytest.raises(ValueError):
        await accounts.add_user(tenant, "short@clinic.ru", "short", "viewer")


async def test_api_keys_are_shown_once_stored_hashed_and_revocable_only_by_their_tenant(accounts, db_url):
    a, _ = await accounts.create_tenant("A", "a@a.ru", PASSWORD)
    b, _ = await accounts.create_tenant("B", "b@b.ru", PASSWORD)
    info, key = await accounts.issue_api_key(a, "phone line")
    assert key.startswith(f"sk_{info.prefix}_")
    async with session_factory(db_url)() as s:
        row = (await s.execute(text("select prefix, secret_hash from api_keys"))).one()
    assert key.split("_", 2)[2] not in row.secret_hash and len(row.secret_hash) == 64
    principal = await accounts.verify_api_key(key)
    assert principal.tenant_id == a and principal.role == "api"
    for bad in (key[:-1] + ("x" if key[-1] != "x" else "y"), "sk_nope_nope", "Bearer", ""):
        with pytest.raises(InvalidCredentials):
            await accounts.verify_api_key(bad)
    with pytest.raises(AccountError):
        await accounts.revoke_api_key(b, info.id)  # tenant B cannot touch A's key
    assert [k.revoked for k in await accounts.list_api_keys(a)] == [False]
    assert await accounts.list_api_keys(b) == []
    await accounts.revoke_api_key(a, info.id)
    with pytest.raises(InvalidCredentials):
        await accounts.verify_api_key(key)


def test_session_tokens_carry_tenant_and_role_and_expire(jwt_secret):
    token = issue_session_token("user-1", "tenant-1", "owner")
    assert decode_session_token(token).tenant_id == "tenant-1"
    assert require_admin(f"Bearer {token}").subject == "user-1"
    with pytest.raises(InvalidToken, match="expired"):
        decode_session_token(issue_session_token("u", "t", "owner", ttl_s=-1))
    head, body, sig = token.split(".")
    with pytest.raises(InvalidToken):
        decode_session_token(f"{head}.{body}.{sig[::-1]}")
    with pytest.raises(APIError) as e:
        require_admin(f"Bearer {issue_session_token('u', 't', 'viewer')}")
    assert e.value.status == 403
    with pytest.raises(APIError) as e:
        require_admin("Bearer not-a-token")
    assert e.value.status == 401


def test_a_token_signed_with_another_secret_is_refused(jwt_secret, monkeypatch):
    token = issue_session_token("u", "t", "admin")
    monkeypatch.setenv("SECRETARY_JWT_SECRET", "another-secret-entirely-0123456789abcdef")
    get_settings.cache_clear()
    with pytest.raises(InvalidToken):
        decode_session_token(token)
