"""Rate limits (memory and real Redis), CORS and security headers, on small apps and on the real ones."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from infra.http_errors import APIError, install_error_handlers
from infra.http_hardening import install_hardening
from infra.settings import Settings


def make_app(**settings) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    install_hardening(app, Settings(**{"rate_limit_per_key": "", "rate_limit_per_ip": "", "redis_url": "", **settings}))

    @app.get("/v1/thing")
    async def thing() -> dict:
        return {"ok": True}

    @app.get("/v1/broken")
    async def broken() -> dict:
        raise APIError(400, "bad input")

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    return app


def client(app: FastAPI, ip: str = "10.0.0.1") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(ip, 1234)), base_url="http://t")


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_each_key_and_each_address_has_its_own_budget(backend, request):
    redis_url = request.getfixturevalue("redis_server").url if backend == "redis" else ""
    app = make_app(rate_limit_per_key="5/minute", rate_limit_per_ip="8/minute", redis_url=redis_url)
    async with client(app) as a, client(app, "10.0.0.2") as b:
        key1, key2 = {"Authorization": "Bearer sk_one"}, {"Authorization": "Bearer sk_two"}
        assert [(await a.get("/v1/thing", headers=key1)).status_code for _ in range(6)] == [200] * 5 + [429]
        r = await a.get("/v1/thing", headers=key1)
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limit_exceeded"
        assert "API key" in r.json()["error"]["message"] and 1 <= int(r.headers["retry-after"]) <= 60
        assert r.headers["x-content-type-options"] == "nosniff"  # refusals carry the headers too
        assert (await b.get("/v1/thing", headers=key1)).status_code == 429  # the key's budget, from anywhere
        assert (await a.get("/v1/thing", headers=key2)).status_code == 200  # another key, same address
        r = await a.get("/v1/thing")  # 8 requests from this address so far, then the address limit
        assert r.status_code == 429 and "client address" in r.json()["error"]["message"]
        assert (await b.get("/v1/thing")).status_code == 200
        assert (await a.get("/healthz")).status_code == 200  # probes are never limited


async def test_an_unreachable_limiter_store_lets_requests_through():
    app = make_app(rate_limit_per_key="1/minute", redis_url="redis://127.0.0.1:1/0")
    async with client(app) as c:
        assert [(await c.get("/v1/thing", headers={"Authorization": "Bearer k"})).status_code for _ in range(3)] == [200] * 3


async def test_security_headers_on_answers_and_errors():
    async with client(make_app()) as c:
        for path, status in (("/v1/thing", 200), ("/v1/broken", 400), ("/nowhere", 404)):
            r = await c.get(path)
            assert r.status_code == status
            assert r.headers["x-frame-options"] == "DENY" and r.headers["referrer-policy"] == "no-referrer"
            assert r.headers["content-security-policy"].startswith("default-src 'none'")
            assert r.headers["cache-control"] == "no-store" and "max-age" in r.headers["strict-transport-security"]
        assert "cdn.jsdelivr.net" in (await c.get("/docs")).headers["content-security-policy"]


async def test_cors_allows_only_the_listed_origins():
    app = make_app(cors_origins="https://app.secretary.example, https://admin.secretary.example")
    async with client(app) as c:
        ok = await c.get("/v1/thing", headers={"Origin": "https://app.secretary.example"})
        assert ok.headers["access-control-allow-origin"] == "https://app.secretary.example"
        evil = await c.get("/v1/thing", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in evil.headers
        pre = await c.options(
            "/v1/thing",
            headers={
                "Origin": "https://admin.secretary.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "Authorization",
            },
        )
        assert pre.status_code == 200 and "POST" in pre.headers["access-control-allow-methods"]
        denied = await c.options(
            "/v1/thing", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
        )
        assert denied.status_code == 400
    async with client(make_app()) as c:  # by default no origin at all
        r = await c.get("/v1/thing", headers={"Origin": "https://app.secretary.example"})
        assert "access-control-allow-origin" not in r.headers


@pytest.mark.parametrize("module", ["deployments.ingress.app", "admin.app", "billing.app"])
async def test_every_app_of_the_cluster_is_hardened(module):
    import importlib

    app = importlib.import_module(module).app
    async with client(app) as c:
        r = await c.get("/healthz")
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"


def body_app(**settings) -> FastAPI:
    app = make_app(max_request_bytes=1024, max_audio_bytes=4096, **settings)

    @app.post("/auth/login")
    async def login(body: dict) -> dict:
        return {"keys": len(body)}

    @app.post("/v1/audio/transcriptions")
    async def upload(request: __import__("fastapi").Request) -> dict:
        return {"bytes": len(await request.body())}

    return app


async def test_a_body_over_the_limit_is_413_before_it_is_read():
    """Issue 20: a 64 MB unauthenticated login body was read whole (400 after 0.8 s), not refused."""
    import time

    async with client(body_app()) as c:
        assert (await c.post("/auth/login", json={"a": 1})).json() == {"keys": 1}
        t0 = time.monotonic()
        r = await c.post(
            "/auth/login", content=b"{" + b" " * (64 * 1024 * 1024) + b"}", headers={"content-type": "application/json"}
        )
        assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"
        assert time.monotonic() - t0 < 5  # refused on its declared length, not after reading 64 MB


async def test_a_chunked_body_is_counted_as_it_arrives_and_refused_past_the_limit():
    read = []

    async def chunks():
        for _ in range(64):
            read.append(1)
            yield b" " * 512

    async with client(body_app()) as c:
        r = await c.post("/auth/login", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413 and "1024 bytes" in r.json()["error"]["message"]
        # Uploads have their own, larger limit (max_audio_bytes plus the multipart framing).
        assert (await c.post("/v1/audio/transcriptions", content=b"x" * 3000)).json() == {"bytes": 3000}
        r = await c.post("/v1/audio/transcriptions", content=b"x" * (4096 + 64 * 1024 + 1))
        assert r.status_code == 413
