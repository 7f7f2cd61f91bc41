"""The console's Serve app in-process: files, page addresses, its policy, and no rate limit on files."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from infra.settings import get_settings


@pytest.fixture
async def console(monkeypatch):
    monkeypatch.setenv("SECRETARY_RATE_LIMIT_PER_IP", "3/minute")  # a client that reloads a lot
    monkeypatch.setenv("SECRETARY_REDIS_URL", "")  # the limits counted in memory, so they apply here
    get_settings.cache_clear()
    from console.app import create_app

    app = Starlette(routes=[Mount("/console", app=create_app())])  # as Serve mounts it at its route prefix
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        yield client
    get_settings.cache_clear()


async def test_every_page_address_serves_the_app_and_files_are_files(console):
    for path in ("/console/", "/console/calls/abc", "/console/billing?checkout=success", "/console/no/such/page"):
        r = await console.get(path)
        assert r.status_code == 200 and '<base href="/console/">' in r.text, path
        assert r.headers["cache-control"] == "no-cache"
    js = await console.get("/console/static/js/app.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"] and "import" in js.text
    assert (await console.get("/console/static/js/nope.js")).status_code == 404  # a missing file is not the app


async def test_the_policy_allows_only_the_consoles_own_scripts(console):
    csp = (await console.get("/console/")).headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "media-src 'self' blob:" in csp


async def test_files_do_not_count_against_the_clients_rate_limit(console):
    """A page load is a dozen files; counted with the API's calls it would use up their budget."""
    statuses = [
        (await console.get(f"/console/static/js/{name}.js")).status_code for name in ("api", "app", "dom", "i18n") * 3
    ]
    assert statuses == [200] * 12
