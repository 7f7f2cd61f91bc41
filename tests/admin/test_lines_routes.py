"""``/admin/lines``: the operator registers lines; each tenant sees and drives only its own.

The pool's actors are fakes here (the real ones, on their modems' nodes, are in
tests/telephony/test_lines_cluster.py); the registry, the routes and the pool are real.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from admin import dependencies
from admin.app import app
from admin.line_pool import LinePool
from infra.auth import issue_session_token
from infra.database import upgrade
from infra.settings import PROJECT_ROOT, get_settings
from personas.registry import PersonaRegistry
from telephony.call_store import CallStore
from telephony.lines import LineRegistry
from tests.asgi_server import serving

ADMIN = {"Authorization": "Bearer lines-admin-token-0123456789abcdef"}
A, B = "862636050029320", "862636050029338"


class Method:
    def __init__(self, fn) -> None:
        self.fn = fn

    def remote(self, *args):
        return asyncio.ensure_future(self.fn(*args))


class FakeLineActor:
    """What a line's ingress actor answers, recorded."""

    def __init__(self, spec: dict, line: dict) -> None:
        self.line, self.dialed, self.stopped = line, [], False
        self.status = Method(self._status)
        self.dial = Method(self._dial)
        self.stop = Method(self._stop)
        self.hang_up = Method(self._hang_up)
        self.events = Method(self._events)

    async def _status(self):
        return {"modem": "ready", "call": None, "persona": self.line["persona"]}

    async def _dial(self, number, greeting):
        self.dialed.append(number)
        return {"call_id": f"call-{len(self.dialed)}"}

    async def _stop(self, timeout_s=15.0):
        self.stopped = True
        return {"stopped": True, "call": None}

    async def _hang_up(self, call_id):
        return {"hung_up": call_id == "call-1"}

    async def _events(self, after, timeout_s):
        return [{"seq": after + 1, "type": "call.ringing", "data": {}}]


@pytest.fixture
async def client(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRETARY_ADMIN_TOKEN", ADMIN["Authorization"].split()[1])
    monkeypatch.setenv("SECRETARY_JWT_SECRET", "lines-test-jwt-secret-0123456789abcdef")
    get_settings.cache_clear()
    url = f"sqlite+aiosqlite:///{tmp_path / 'admin.db'}"
    await upgrade(url)
    await PersonaRegistry(url).seed(PROJECT_ROOT / "cluster" / "personas.yaml")
    actors: dict[str, FakeLineActor] = {}

    def create(spec, line):
        actors[line["imei"]] = FakeLineActor(spec, line)
        return actors[line["imei"]]

    dependencies.bind(CallStore(url), None)
    pool = LinePool(LineRegistry(url), {"enabled": True}, create=create)
    dependencies.bind_lines(pool)
    async with serving(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as c:
        c.actors, c.pool = actors, pool
        yield c
    dependencies.bind_lines(None)
    dependencies.bind(None, None)
    get_settings.cache_clear()


def session(tenant: str, role: str = "owner") -> dict:
    return {"Authorization": f"Bearer {issue_session_token(f'user-{tenant}', tenant, role)}"}


async def test_the_operator_registers_lines_and_each_starts_its_own_actor(client):
    r = await client.put(f"/lines/{A}", json={"tenant_id": "t-a", "persona": "anna", "label": "Reception"}, headers=ADMIN)
    assert r.status_code == 200, r.text
    r = await client.put(f"/lines/{B}", json={"tenant_id": "t-b", "persona": "marina"}, headers=ADMIN)
    assert r.status_code == 200, r.text
    assert set(client.actors) == {A, B}
    assert client.actors[B].line == {"imei": B, "tenant_id": "t-b", "persona": "marina", "label": "", "enabled": True}
    everything = (await client.get("/lines", headers=ADMIN)).json()["items"]
    assert [x["imei"] for x in everything] == [A, B] and everything[0]["status"]["modem"] == "ready"

    # A new persona for line B: its actor is drained and replaced by one with the new spec.
    old = client.actors[B]
    r = await client.put(f"/lines/{B}", json={"tenant_id": "t-b", "persona": "anna"}, headers=ADMIN)
    assert r.status_code == 200 and old.stopped and client.actors[B] is not old
    assert client.actors[B].line["persona"] == "anna"
    # Disabled, then removed: drained, gone from the pool, not found.
    r = await client.put(f"/lines/{B}", json={"tenant_id": "t-b", "persona": "anna", "enabled": False}, headers=ADMIN)
    assert r.status_code == 200 and client.actors[B].stopped and client.pool.client(B) is None
    assert (await client.post(f"/lines/{B}/calls", json={"number": "+79161234567"}, headers=ADMIN)).status_code == 409
    assert (await client.delete(f"/lines/{B}", headers=ADMIN)).status_code == 204
    assert (await client.get(f"/lines/{B}", headers=ADMIN)).status_code == 404


async def test_a_tenant_sees_and_drives_only_its_own_line(client):
    for imei, tenant in ((A, "t-a"), (B, "t-b")):
        r = await client.put(f"/lines/{imei}", json={"tenant_id": tenant, "persona": "anna"}, headers=ADMIN)
        assert r.status_code == 200, r.text
    a, b_viewer = session("t-a"), session("t-b", "admin")
    assert [x["imei"] for x in (await client.get("/lines", headers=a)).json()["items"]] == [A]
    r = await client.post(f"/lines/{A}/calls", json={"number": "+79161234567"}, headers=a)
    assert r.status_code == 202 and r.json() == {"call_id": "call-1"} and client.actors[A].dialed == ["+79161234567"]
    assert (await client.post(f"/lines/{A}/calls/call-1/hangup", headers=a)).json() == {"hung_up": True}
    assert (await client.post(f"/lines/{A}/calls/call-9/hangup", headers=a)).status_code == 404
    events = (await client.get(f"/lines/{A}/events", params={"after": 4, "timeout_s": 0}, headers=a)).json()["events"]
    assert events[0]["seq"] == 5
    # Tenant B: line A does not exist for them, whatever they try; and no tenant may register lines.
    for method, path, body in (
        ("GET", f"/lines/{A}", None),
        ("POST", f"/lines/{A}/calls", {"number": "+79161234567"}),
        ("POST", f"/lines/{A}/calls/call-1/hangup", None),
        ("GET", f"/lines/{A}/events", None),
    ):
        r = await client.request(method, path, json=body, headers=b_viewer)
        assert r.status_code == 404 and r.json()["error"]["code"] == "line_not_found", (method, path, r.text)
    assert client.actors[A].dialed == ["+79161234567"]  # B dialled nothing through A
    for method in ("PUT", "DELETE"):
        body = {"tenant_id": "t-b", "persona": "anna"} if method == "PUT" else None
        r = await client.request(method, f"/lines/{A}", json=body, headers=session("t-b"))
        assert r.status_code == 403, r.text
    assert (await client.get(f"/lines/{A}", headers=ADMIN)).json()["tenant_id"] == "t-a"


@pytest.mark.parametrize(
    ("imei", "body", "param"),
    [
        ("86263605002932", {"tenant_id": "t-a", "persona": "anna"}, "imei"),  # 14 digits
        ("86263605002932x", {"tenant_id": "t-a", "persona": "anna"}, "imei"),
        (A, {"tenant_id": "t-a", "persona": "nobody-here"}, "persona"),
        (A, {"tenant_id": "t-a", "persona": "Anna!"}, "persona"),
        (A, {"tenant_id": "", "persona": "anna"}, "tenant_id"),
        (A, {"tenant_id": "t-a", "persona": "anna", "sim_pin": "1234"}, "sim_pin"),
    ],
)
async def test_bad_lines_are_refused_with_the_field_named(client, imei, body, param):
    r = await client.put(f"/lines/{imei}", json=body, headers=ADMIN)
    assert r.status_code == 400 and param in (r.json()["error"]["param"] or ""), r.text
    assert client.actors == {}


async def test_readiness_counts_the_lines_without_naming_them(client):
    assert (await client.get("/readyz")).json() == {"status": "ready", "checks": {}}
    for imei in (A, B):
        await client.put(f"/lines/{imei}", json={"tenant_id": "t-a", "persona": "anna"}, headers=ADMIN)
    r = await client.get("/readyz")  # public, like any probe
    assert r.status_code == 200 and r.json()["checks"] == {"lines": "2 of 2 ready"}

    async def lost():
        raise TimeoutError

    client.actors[B].status = Method(lost)  # line B's office machine stops answering
    r = await client.get("/readyz")
    assert r.status_code == 503 and r.json() == {"status": "not ready", "checks": {"lines": "1 of 2 ready"}}
    assert A not in r.text and B not in r.text
