"""production=true refuses development defaults; API docs can be turned off; X-Forwarded-For only from trusted proxies."""

from __future__ import annotations

import base64
import ipaddress
import os

import httpx
import pytest
from fastapi import APIRouter, Request

from infra.forwarded import client_address
from infra.http_app import service_app
from infra.production import InsecureSettings, enforce, findings
from infra.settings import Settings, get_settings

STRONG = {
    "SECRETARY_MASTER_KEYS": "k1:" + base64.b64encode(os.urandom(32)).decode(),
    "SECRETARY_JWT_SECRET": "q8ZrT1vK3mN9pX2wL7cY5bH0dF4gJ6sA",
    "SECRETARY_PII_HASH_KEY": "Zx9Lw2Qe7Rt5Yu1Io3Pa8Sd6Fg4Hj0Kl",
    "SECRETARY_API_DOCS": "false",
    "SECRETARY_PUBLIC_URL": "https://secretary.example.ru",
}


@pytest.fixture
def env(monkeypatch):
    """Sets SECRETARY_* variables for one test; the cached settings are rebuilt around it."""

    def apply(values: dict[str, str]) -> Settings:
        for k, v in values.items():
            monkeypatch.setenv(k, v)
        get_settings.cache_clear()
        return get_settings()

    yield apply
    get_settings.cache_clear()


def test_the_development_defaults_are_each_found_with_how_to_fix_them(env):
    text = "\n".join(findings(env({})))
    for name in ("MASTER_KEYS", "JWT_SECRET", "PII_HASH_KEY", "API_DOCS", "PUBLIC_URL"):
        assert f"SECRETARY_{name}" in text
    assert "beside the data it protects" in text


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SECRETARY_MASTER_KEYS", ""),
        ("SECRETARY_JWT_SECRET", "short-secret"),
        ("SECRETARY_JWT_SECRET", "a" * 40),
        ("SECRETARY_PII_HASH_KEY", "change-me"),
        ("SECRETARY_API_DOCS", "true"),
        ("SECRETARY_PUBLIC_URL", "http://secretary.example.ru"),
        ("SECRETARY_TRUSTED_PROXIES", "10.0.0.0/8, not-a-network"),
        ("SECRETARY_ADMIN_TOKEN", "admin"),
    ],
)
def test_production_refuses_to_start_with_any_insecure_setting(env, name, value):
    settings = env({**STRONG, "SECRETARY_PRODUCTION": "true", name: value})
    with pytest.raises(InsecureSettings, match=name):
        enforce(settings)
    with pytest.raises(InsecureSettings):
        service_app("t", "t", [])


async def test_production_with_real_secrets_starts_and_serves_no_docs(env):
    settings = env({**STRONG, "SECRETARY_PRODUCTION": "true"})
    assert findings(settings) == []
    app = service_app("t", "t", [])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/healthz")).status_code == 200
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert (await c.get(path)).status_code == 404, path


async def test_admin_and_billing_docs_follow_the_setting(env):
    import admin.app
    import billing.app

    env({"SECRETARY_API_DOCS": "false"})
    for make in (admin.app.create_app, billing.app.create_app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=make()), base_url="http://t") as c:
            assert (await c.get("/openapi.json")).status_code == 404
            assert (await c.get("/docs")).status_code == 404


TRUSTED = [ipaddress.ip_network("10.0.0.0/8")]


@pytest.mark.parametrize(
    ("peer", "xff", "expected"),
    [
        ("203.0.113.9", ["185.71.76.10"], "203.0.113.9"),  # a direct client cannot claim an address
        ("10.0.0.2", ["185.71.76.10"], "185.71.76.10"),  # the balancer says who it forwarded
        ("10.0.0.2", ["6.6.6.6, 185.71.76.10"], "185.71.76.10"),  # the client's own prefix is ignored
        ("10.0.0.2", ["185.71.76.10, 10.0.0.7"], "185.71.76.10"),  # two trusted hops
        ("10.0.0.2", ["garbage, 10.0.0.7"], "10.0.0.7"),  # an unreadable hop stops the walk
        ("10.0.0.2", ["10.0.0.9"], "10.0.0.9"),
        ("10.0.0.2", [], "10.0.0.2"),
    ],
)
def test_the_client_address_is_read_from_the_right_and_only_through_trusted_proxies(peer, xff, expected):
    assert client_address(peer, xff, TRUSTED) == expected
    assert client_address(peer, xff, []) == peer  # nothing trusted: nothing changes


async def test_rate_limits_and_routes_see_the_client_behind_a_trusted_proxy(env):
    env({"SECRETARY_TRUSTED_PROXIES": "10.0.0.0/8", "SECRETARY_RATE_LIMIT_PER_IP": "2/minute", "SECRETARY_REDIS_URL": ""})
    router = APIRouter()

    @router.get("/who")
    async def who(request: Request) -> dict:
        return {"client": request.client.host}

    app = service_app("t", "t", [router])
    balancer = httpx.ASGITransport(app=app, client=("10.0.0.2", 5000))
    async with httpx.AsyncClient(transport=balancer, base_url="http://t") as c:
        one, two = {"X-Forwarded-For": "198.51.100.1"}, {"X-Forwarded-For": "198.51.100.2"}
        assert (await c.get("/who", headers=one)).json() == {"client": "198.51.100.1"}
        assert (await c.get("/who", headers=one)).status_code == 200
        assert (await c.get("/who", headers=one)).status_code == 429  # that client's own limit
        assert (await c.get("/who", headers=two)).status_code == 200  # not the balancer's
    direct = httpx.ASGITransport(app=app, client=("203.0.113.9", 5000))
    async with httpx.AsyncClient(transport=direct, base_url="http://t") as c:
        spoof = {"X-Forwarded-For": "198.51.100.3"}
        assert (await c.get("/who", headers=spoof)).json() == {"client": "203.0.113.9"}
