"""Sign-up's consent, who is signed in, and the account's users (owner, admin, viewer)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from accounts.service import AccountService
from billing.app import app
from billing.dependencies import BillingServices, bind
from billing.plans import load_plans
from billing.subscriptions import SubscriptionStore
from infra.database import upgrade
from infra.settings import get_settings
from privacy.policy import load_policy

VERSION = str(load_policy()["version"])
PASSWORD = "a long enough password"


@pytest.fixture
async def client(db_url, monkeypatch):
    monkeypatch.setenv("SECRETARY_JWT_SECRET", "team-test-jwt-secret-0123456789abcdef")
    get_settings.cache_clear()
    await upgrade(db_url)
    bind(BillingServices(AccountService(db_url), load_plans(), SubscriptionStore(db_url)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c
    bind(None)
    get_settings.cache_clear()


def email() -> str:
    return f"{uuid.uuid4().hex[:8]}@clinic.ru"


async def signup(client, **extra) -> httpx.Response:
    body = {"business_name": "Клиника", "email": email(), "password": PASSWORD}
    return await client.post("/auth/signup", json={**body, **extra})


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


async def test_no_account_without_accepting_the_current_policy(client):
    r = await signup(client)
    assert r.status_code == 400  # the field is required
    r = await signup(client, accept_privacy_policy=False, privacy_policy_version=VERSION)
    assert r.status_code == 400 and r.json()["error"]["code"] == "consent_required"
    r = await signup(client, accept_privacy_policy=True, privacy_policy_version="2001-01-01")
    assert r.status_code == 409 and r.json()["error"]["code"] == "policy_changed"

    r = await signup(client, accept_privacy_policy=True, privacy_policy_version=VERSION)
    assert r.status_code == 201, r.text
    me = (await client.get("/auth/me", headers=bearer(r.json()["token"]))).json()
    assert me["role"] == "owner" and me["business_name"] == "Клиника" and me["tenant_id"] == r.json()["tenant_id"]
    assert [(c["kind"], c["granted"], c["version"]) for c in me["consents"]] == [("privacy_policy", True, VERSION)]


async def test_the_owner_adds_and_removes_users_and_only_the_owner(client):
    owner = (await signup(client, accept_privacy_policy=True, privacy_policy_version=VERSION)).json()
    other = (await signup(client, accept_privacy_policy=True, privacy_policy_version=VERSION)).json()
    viewer_email, admin_email = email(), email()
    for who, role in ((viewer_email, "viewer"), (admin_email, "admin")):
        r = await client.post(
            "/team", json={"email": who, "password": PASSWORD, "role": role}, headers=bearer(owner["token"])
        )
        assert r.status_code == 201 and r.json()["role"] == role
    r = await client.post(
        "/team", json={"email": email(), "password": PASSWORD, "role": "owner"}, headers=bearer(owner["token"])
    )
    assert r.status_code == 400  # a second owner is not a role one can add

    signed = {}
    for who in (viewer_email, admin_email):
        r = await client.post("/auth/login", json={"email": who, "password": PASSWORD})
        assert r.status_code == 200
        signed[r.json()["role"]] = r.json()["token"]

    # Everyone of the tenant sees the team, the plan and their own name; only the owner changes the team.
    for token in (owner["token"], signed["admin"], signed["viewer"]):
        members = (await client.get("/team", headers=bearer(token))).json()["items"]
        assert sorted(m["role"] for m in members) == ["admin", "owner", "viewer"]
        assert (await client.get("/subscription", headers=bearer(token))).status_code == 200
    assert (await client.get("/auth/me", headers=bearer(signed["viewer"]))).json()["role"] == "viewer"
    for token in (signed["admin"], signed["viewer"]):
        r = await client.post("/team", json={"email": email(), "password": PASSWORD, "role": "admin"}, headers=bearer(token))
        assert r.status_code == 403
    # A viewer reaches no owner action: keys, checkout.
    assert (await client.get("/api-keys", headers=bearer(signed["viewer"]))).status_code == 403
    assert (await client.post("/api-keys", json={"name": "x"}, headers=bearer(signed["viewer"]))).status_code == 403
    checkout = {"plan": "pro", "attempt_key": "v1"}
    assert (await client.post("/checkout/stripe", json=checkout, headers=bearer(signed["viewer"]))).status_code == 403

    viewer_id = next(m["id"] for m in members if m["role"] == "viewer")
    owner_id = next(m["id"] for m in members if m["role"] == "owner")
    # Another tenant cannot remove this tenant's users, and nobody removes the owner.
    assert (await client.delete(f"/team/{viewer_id}", headers=bearer(other["token"]))).status_code == 404
    assert (await client.delete(f"/team/{owner_id}", headers=bearer(owner["token"]))).status_code == 404
    assert (await client.delete(f"/team/{viewer_id}", headers=bearer(owner["token"]))).status_code == 204
    r = await client.post("/auth/login", json={"email": viewer_email, "password": PASSWORD})
    assert r.status_code == 401
    r = await client.get("/auth/me", headers=bearer(signed["viewer"]))  # a session issued before: refused now
    assert r.status_code == 401
