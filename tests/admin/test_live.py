"""``GET /admin/live``: the console's Today stream, a snapshot of the lines then their events."""

from __future__ import annotations

import asyncio
import json

from infra.settings import get_settings
from tests.admin.conftest import AUTH


async def read_events(stream, until: str, on_event=None) -> list[tuple[str, dict]]:
    seen: list[tuple[str, dict]] = []
    name = None
    async with asyncio.timeout(25):
        async for line in stream.aiter_lines():
            if line.startswith("event:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                seen.append((name, json.loads(line.split(":", 1)[1])))
                if on_event is not None:
                    await on_event(name, seen[-1][1])
                if name == until:
                    return seen
    return seen


async def test_the_stream_opens_with_the_lines_and_follows_a_call_to_its_end(rig, client):
    async def act(name, data):
        if name == "snapshot":
            r = await client.post("/calls", json={"number": "+79161234567", "greeting": "Hello."}, headers=AUTH)
            assert r.status_code == 202
        if name == "call.answered":
            assert (await client.post(f"/calls/{data['call_id']}/hangup", headers=AUTH)).status_code == 200

    async with client.stream("GET", "/live", headers=AUTH) as events:
        assert events.headers["content-type"].startswith("text/event-stream")
        seen = await read_events(events, "call.ended", act)
    (first, snapshot), *rest = seen
    assert first == "snapshot"
    [line] = snapshot["lines"]
    assert line["line"] == "modem" and line["modem"] == "ready" and line["call"] is None
    assert line["radio"]["registration"] in ("home", "roaming")  # the modem's own report (AT+CREG)
    names = [n for n, _ in rest]
    assert names[0] == "call.dialing" and names[-1] == "call.ended"
    assert all(d["line"] == "modem" for _, d in rest)
    assert all("+79161234567" not in json.dumps(d) for _, d in seen)  # numbers masked


async def test_another_tenant_sees_no_line_it_does_not_own(rig, client, monkeypatch):
    from infra.auth import issue_session_token

    monkeypatch.setenv("SECRETARY_JWT_SECRET", "live-test-jwt-secret-0123456789abcdef")
    monkeypatch.setenv("SECRETARY_MODEM_TENANT", "the-line-owner")
    get_settings.cache_clear()
    stranger = {"Authorization": f"Bearer {issue_session_token('u', 'someone-else', 'viewer')}"}
    async with client.stream("GET", "/live", headers=stranger) as events:
        seen = await read_events(events, "snapshot")
    assert seen == [("snapshot", {"lines": []})]
    owner = {"Authorization": f"Bearer {issue_session_token('u', 'the-line-owner', 'viewer')}"}
    async with client.stream("GET", "/live", headers=owner) as events:
        seen = await read_events(events, "snapshot")
    assert [x["line"] for x in seen[0][1]["lines"]] == ["modem"]
    assert (await client.get("/live")).status_code == 401
