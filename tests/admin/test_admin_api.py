"""The admin app in-process over a real ingress on the simulator: auth, history, dialing, SMS, SSE."""

from __future__ import annotations

import asyncio
import json

import httpx
import prometheus_client
import pytest
from fastapi.routing import APIRoute

from admin import dependencies
from admin.app import app
from infra.settings import get_settings
from tests.admin.conftest import AUTH, TOKEN
from tests.telephony.ingress_rig import caller_script

PROBES = {"/readyz"}  # public like every probe; it names nothing (tests/admin/test_lines_routes.py)


def admin_routes() -> list[tuple[str, str]]:
    out = []
    for route in app.routes:
        if isinstance(route, APIRoute) and route.include_in_schema and route.path not in PROBES:
            for method in route.methods - {"HEAD", "OPTIONS"}:
                path = route.path.replace("{call_id}", "abc").replace("{name}", "Imei").replace("{imei}", "862636050029320")
                out.append((method, path))
    return out


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Authorization": f"Basic {TOKEN}"}]
)
async def test_every_admin_route_needs_the_token(rig, client, headers):
    routes = admin_routes()
    assert len(routes) >= 10
    for method, path in routes:
        r = await client.request(method, path, headers=headers, json={})
        assert r.status_code == 401, (method, path, r.text)
        assert r.json()["error"]["type"] == "authentication_error"


async def test_without_a_configured_token_the_admin_api_is_closed(monkeypatch):
    monkeypatch.delenv("SECRETARY_ADMIN_TOKEN", raising=False)
    get_settings.cache_clear()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://admin") as c:
        r = await c.get("/calls", headers={"Authorization": "Bearer "})
    assert r.status_code == 401 and r.json()["error"]["code"] == "admin_disabled"


async def test_history_is_paginated_newest_first(rig, client):
    ids = []
    for i in range(5):
        call_id = await rig.store.call_started("inbound", f"+7916123450{i}", "anna")
        await rig.store.call_ended(call_id, "caller_goodbye", [{"speaker": "caller", "text": f"call {i}"}])
        ids.append(call_id)
    r = await client.get("/calls", params={"limit": 2, "offset": 1}, headers=AUTH)
    body = r.json()
    assert r.status_code == 200 and body["total"] == 5 and body["limit"] == 2
    assert [c["id"] for c in body["items"]] == [ids[3], ids[2]]
    assert body["items"][0]["number"] == "+7916***4503"
    one = (await client.get(f"/calls/{ids[0]}", headers=AUTH)).json()
    assert one["transcript"] == [{"speaker": "caller", "text": "call 0"}]
    assert (await client.get("/calls/nope", headers=AUTH)).status_code == 404
    assert (await client.get("/calls", params={"limit": 0}, headers=AUTH)).status_code == 400
    assert (await client.get("/calls", params={"direction": "sideways"}, headers=AUTH)).status_code == 400


async def test_dial_hang_up_and_events(rig, client):
    async with client.stream("GET", "/calls/events", params={"after": 0}, headers=AUTH) as events:
        r = await client.post(
            "/calls", json={"number": "+7 916 123-45-67", "greeting": "Hello from the clinic."}, headers=AUTH
        )
        assert r.status_code == 202
        call_id = r.json()["call_id"]
        busy = await client.post("/calls", json={"number": "+79035550000"}, headers=AUTH)
        assert busy.status_code == 409 and busy.json()["error"]["code"] == "line_busy"
        seen: list[tuple[str, dict]] = []
        lines = events.aiter_lines()
        event_type = None
        async with asyncio.timeout(20):
            async for line in lines:
                if line.startswith("event:"):
                    event_type = line.split(":", 1)[1].strip()
                elif line.startswith("data:"):
                    seen.append((event_type, json.loads(line.split(":", 1)[1])))
                    if event_type == "call.answered":
                        active = (await client.get("/calls/active", headers=AUTH)).json()["call"]
                        assert active["call_id"] == call_id and active["number"] == "+7916***4567"
                        assert (await client.post(f"/calls/{call_id}/hangup", headers=AUTH)).status_code == 200
                    if event_type == "call.ended":
                        break
    types = [t for t, _ in seen]
    assert types[:2] == ["modem.ready", "call.dialing"] and types[-1] == "call.ended"
    assert seen[-1][1]["reason"] == "admin_hangup" and seen[-1][1]["call_id"] == call_id
    assert all("+79161234567" not in json.dumps(d) for _, d in seen)  # masked everywhere
    again = await client.post(f"/calls/{call_id}/hangup", headers=AUTH)
    assert again.status_code == 404


@pytest.mark.parametrize(
    "number", ["+78091234567", "8 803 123 45 67", "+79161234567;ATH", "+7916\r\nATD112;", "ATD+79161234567;"]
)
async def test_refused_numbers(rig, client, number):
    r = await client.post("/calls", json={"number": number}, headers=AUTH)
    assert r.status_code == 403, r.text
    assert not any(c.upper().startswith("ATD") for c in rig.modem.commands)


async def test_bad_bodies(rig, client):
    for body in ({}, {"number": "+79161234567", "extra": 1}, {"number": 79161234567}, {"number": "1"}):
        assert (await client.post("/calls", json=body, headers=AUTH)).status_code == 400
    r = await client.post("/calls", content=b"{not json", headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 400


async def test_modem_status_and_diagnostics(rig, client):
    status = (await client.get("/modem/status", headers=AUTH)).json()
    assert status["ingress"]["modem"] == "ready"
    assert status["modem"]["imei"] == "862636050029311" and status["modem"]["signal_dbm"] == -81
    # The same reading is a metric, per line (the dashboard's signal panel and the "modem lost" alert).
    assert prometheus_client.REGISTRY.get_sample_value("secretary_modem_signal_dbm", {"line": "862636050029311"}) == -81
    assert prometheus_client.REGISTRY.get_sample_value("secretary_modem_registered", {"line": "862636050029311"}) == 1
    names = (await client.get("/modem/diagnostics", headers=AUTH)).json()["diagnostics"]
    assert "SignalQuality" in names and "Dial" not in names
    lines = (await client.get("/modem/diagnostics/SignalQuality", headers=AUTH)).json()["lines"]
    assert lines[0].startswith("+CSQ:") and lines[-1] == "OK"
    for raw in ("ATD112", "AT+CRESET", "Reset", "AT%2BCSQ"):
        r = await client.get(f"/modem/diagnostics/{raw}", headers=AUTH)
        assert r.status_code in (400, 404), raw
    assert "AT+CRESET" not in rig.modem.commands


async def test_sms_send_and_history(rig, client):
    r = await client.post("/sms", json={"number": "+79161234567", "text": "Ваша запись: завтра в 10:00"}, headers=AUTH)
    assert r.status_code == 202
    assert rig.modem.sent_sms == [("+79161234567", "Ваша запись: завтра в 10:00")]
    smuggled = await client.post("/sms", json={"number": "+79161234567", "text": "hi\x1aAT+CRESET"}, headers=AUTH)
    assert smuggled.status_code == 400 and len(rig.modem.sent_sms) == 1
    premium = await client.post("/sms", json={"number": "+78091234567", "text": "hi"}, headers=AUTH)
    assert premium.status_code == 403
    page = (await client.get("/sms", headers=AUTH)).json()
    assert page["total"] == 1 and page["items"][0]["direction"] == "outbound"


async def test_a_call_through_the_ingress_shows_in_history(rig, client):
    rig.modem.incoming_call("+79161234567", caller_script((3.5, "Are you open today?"), (8.5, "Goodbye."), total_s=16))
    record = await rig.call_ended(within_s=40)
    r = (await client.get(f"/calls/{record['id']}", headers=AUTH)).json()
    assert r["end_reason"] == "caller_goodbye" and any(t["speaker"] == "caller" for t in r["transcript"])
    assert r["recording_ref"]


PERSONA = {
    "name": "olga",
    "display_name": "Ольга",
    "language": "ru",
    "voice": "joe",
    "system_prompt": "Ты секретарь.",
    "lines": {
        "greeting": "Здравствуйте, это Ольга.",
        "recording_notice": "Идёт запись.",
        "farewell": "До свидания!",
        "silence_prompt": "Алло?",
        "hangup_line": "Не слышно.",
        "apology": "Извините.",
    },
}


async def test_personas_crud(rig, client):
    r = await client.post("/personas", json=PERSONA, headers=AUTH)
    assert r.status_code == 201 and r.json()["status"] == "available"
    assert (await client.post("/personas", json=PERSONA, headers=AUTH)).status_code == 409
    assert (await client.get("/personas/olga", headers=AUTH)).json()["display_name"] == "Ольга"
    changed = {**PERSONA, "display_name": "Olga"}
    assert (await client.put("/personas/olga", json=changed, headers=AUTH)).json()["display_name"] == "Olga"
    renamed = await client.put("/personas/olga", json={**PERSONA, "name": "olga2"}, headers=AUTH)
    assert renamed.status_code == 400
    # An adapter is never taken from a persona's body: only published from the adapter store.
    forged = {**PERSONA, "name": "ivan", "adapter": {"name": "ivan", "version": 1, "path": "/etc"}}
    r = await client.post("/personas", json=forged, headers=AUTH)
    assert r.status_code == 400 and r.json()["error"]["code"] == "adapter_not_settable"
    r = await client.put("/personas/olga", json={**forged, "name": "olga"}, headers=AUTH)
    assert r.status_code == 400 and r.json()["error"]["code"] == "adapter_not_settable"
    assert (await client.post("/personas", json={**PERSONA, "name": "ivan"}, headers=AUTH)).status_code == 201
    names = [p["name"] for p in (await client.get("/personas", headers=AUTH)).json()["items"]]
    assert names == ["ivan", "olga"]
    assert (await client.delete("/personas/olga", headers=AUTH)).status_code == 204
    assert (await client.get("/personas/olga", headers=AUTH)).status_code == 404
    assert (await client.delete("/personas/olga", headers=AUTH)).status_code == 404
    for bad in ({**PERSONA, "name": "Bad Name"}, {**PERSONA, "timezone": "Nowhere/Else"}, {"name": "x"}):
        assert (await client.post("/personas", json=bad, headers=AUTH)).status_code == 400


async def test_publishing_an_adapter_version_and_faq_hit_counts(rig, client, tmp_path, monkeypatch):
    from personas.registry import PersonaRegistry

    monkeypatch.setenv("SECRETARY_ADAPTERS_DIR", str(tmp_path / "adapters"))
    get_settings.cache_clear()
    good = tmp_path / "adapters" / "_shared" / "olga" / "v2"  # the operator's own store
    good.mkdir(parents=True)
    (good / "adapter_config.json").write_text("{}")
    (good / "adapter_model.safetensors").write_bytes(b"weights")
    faq = [
        {"question": "Какие у вас часы работы?", "answer": "С 9 до 18.", "triggers": ["часы"]},
        {"question": "Где вы находитесь?", "answer": "Ленина, 1."},
    ]
    assert (await client.post("/personas", json={**PERSONA, "faq": faq}, headers=AUTH)).status_code == 201
    r = await client.put("/personas/olga/adapter", json={"version": 2, "path": "olga/v2"}, headers=AUTH)
    assert r.status_code == 200 and r.json()["adapter"]["version"] == 2 and r.json()["status"] == "available"
    assert r.json()["adapter"]["name"].startswith("shared-") and r.json()["adapter"]["path"] == str(good.resolve())
    # Replacing the persona with the adapter it was given (a GET, edited, PUT back) keeps it.
    again = await client.put(
        "/personas/olga", json={k: v for k, v in r.json().items() if not k.startswith("status")}, headers=AUTH
    )
    assert again.status_code == 200 and again.json()["adapter"] == r.json()["adapter"], again.text
    older = await client.put("/personas/olga/adapter", json={"version": 1, "path": "olga/v2"}, headers=AUTH)
    assert older.status_code == 409 and older.json()["error"]["code"] == "adapter_version_older"
    for path in ("/nope", "olga/v3", "../../etc", "olga/../olga/v2"):
        missing = await client.put("/personas/olga/adapter", json={"version": 3, "path": path}, headers=AUTH)
        assert missing.status_code == 400 and missing.json()["error"]["code"] == "adapter_path_invalid", path
    assert (await client.delete("/personas/olga/adapter", headers=AUTH)).json()["status"] == "available"
    assert (await client.put("/personas/nobody/adapter", json={"version": 1, "path": "x"}, headers=AUTH)).status_code == 404

    from personas.faq import entry_key
    from personas.schemas import FaqEntry

    registry = PersonaRegistry(rig.store.url)

    for _ in range(3):
        await registry.record_faq_hit("olga", entry_key(FaqEntry(**faq[1])))
    items = (await client.get("/personas/olga/faq", headers=AUTH)).json()["items"]
    assert [(i["question"], i["hits"]) for i in items] == [(faq[0]["question"], 0), (faq[1]["question"], 3)]
    assert items[1]["last_hit_at"] is not None


async def test_usage_stats_are_daily_series_of_the_callers_tenant(rig, client, redis_server, monkeypatch):
    from datetime import UTC, datetime

    from billing.metering import UsageMeter
    from infra.auth import issue_session_token

    meter = UsageMeter(redis_server.url, rig.store.url)
    try:
        for day, amount in ((3, 60_000), (3, 30_000), (5, 120_000)):
            await meter.consume("tenant-a", "call_ms", amount, at=datetime(2026, 11, day, 10, tzinfo=UTC))
        await meter.consume("tenant-b", "call_ms", 999, at=datetime(2026, 11, 3, tzinfo=UTC))
        await meter.flush()
    finally:
        await meter.close()
    r = await client.get("/usage/stats", params={"period": "2026-11", "tenant": "tenant-a"}, headers=AUTH)
    body = r.json()
    assert body["totals"] == {"call_ms": 210_000}
    assert body["daily"]["call_ms"] == [{"day": 3, "amount": 90_000}, {"day": 5, "amount": 120_000}]
    assert (await client.get("/usage/stats", params={"period": "2026-13"}, headers=AUTH)).status_code == 400
    # A tenant's own session sees only its own usage.
    monkeypatch.setenv("SECRETARY_JWT_SECRET", "usage-test-jwt-secret-0123456789abcdef")
    get_settings.cache_clear()
    own = {"Authorization": f"Bearer {issue_session_token('u-b', 'tenant-b', 'owner')}"}
    assert (await client.get("/usage/stats", params={"period": "2026-11"}, headers=own)).json()["totals"] == {"call_ms": 999}
    other = await client.get("/usage/stats", params={"period": "2026-11", "tenant": "tenant-a"}, headers=own)
    assert other.status_code == 404


async def test_tenant_a_cannot_read_or_change_tenant_bs_personas_calls_or_usage(rig, client, monkeypatch):
    from infra.auth import issue_session_token
    from telephony.call_store import CallStore

    monkeypatch.setenv("SECRETARY_JWT_SECRET", "scoping-test-jwt-secret-0123456789abcdef")
    get_settings.cache_clear()
    a = {"Authorization": f"Bearer {issue_session_token('user-a', 'tenant-a', 'owner')}"}
    b = {"Authorization": f"Bearer {issue_session_token('user-b', 'tenant-b', 'admin')}"}
    assert (await client.post("/personas", json={**PERSONA, "name": "alina"}, headers=a)).status_code == 201
    assert [p["name"] for p in (await client.get("/personas", headers=a)).json()["items"]] == ["alina"]
    assert (await client.get("/personas", headers=b)).json()["items"] == []
    assert (await client.get("/personas/alina", headers=b)).status_code == 404
    changed = {**PERSONA, "name": "alina", "display_name": "Stolen"}
    assert (await client.put("/personas/alina", json=changed, headers=b)).status_code == 404
    assert (await client.put("/personas/alina/adapter", json={"version": 9, "path": "x"}, headers=b)).status_code == 404
    assert (await client.get("/personas/alina/faq", headers=b)).status_code == 404
    assert (await client.delete("/personas/alina", headers=b)).status_code == 404
    assert (await client.get("/personas/alina", headers=a)).json()["display_name"] == PERSONA["display_name"]

    call_a = await CallStore(rig.store.url, tenant_id="tenant-a").call_started("inbound", "+79161112233", "alina")
    assert [c["id"] for c in (await client.get("/calls", headers=a)).json()["items"]] == [call_a]
    assert (await client.get("/calls", headers=b)).json()["items"] == []
    assert (await client.get(f"/calls/{call_a}", headers=b)).status_code == 404
    assert (await client.get("/usage/stats", params={"tenant": "tenant-a"}, headers=b)).status_code == 404
    # A viewer of tenant A reads A's history and changes nothing, not even A's own persona.
    viewer = {"Authorization": f"Bearer {issue_session_token('user-c', 'tenant-a', 'viewer')}"}
    assert [c["id"] for c in (await client.get("/calls", headers=viewer)).json()["items"]] == [call_a]
    assert (await client.get("/personas/alina", headers=viewer)).status_code == 200
    refused = await client.put("/personas/alina", json={**PERSONA, "name": "alina"}, headers=viewer)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert (await client.delete("/personas/alina", headers=viewer)).status_code == 403
    assert (await client.post(f"/calls/{call_a}/hangup", headers=viewer)).status_code == 403
    assert (await client.get("/messages/channels", headers=viewer)).status_code == 403


async def test_a_recording_is_served_decrypted_to_its_own_tenant_only(rig, client, monkeypatch):
    import numpy as np

    from infra.audio import wav_bytes
    from infra.auth import issue_session_token
    from telephony.call_store import CallStore

    monkeypatch.setenv("SECRETARY_JWT_SECRET", "recording-test-jwt-secret-0123456789abcdef")
    get_settings.cache_clear()
    dependencies.bind_recordings(rig.recordings)
    try:
        a = {"Authorization": f"Bearer {issue_session_token('user-a', 'tenant-a', 'owner')}"}
        b = {"Authorization": f"Bearer {issue_session_token('user-b', 'tenant-b', 'owner')}"}
        store = CallStore(rig.store.url, tenant_id="tenant-a")
        call = await store.call_started("inbound", "+79161112233", "olga")
        wav = wav_bytes(np.zeros(4000, dtype="<i2"), 8000)
        ref = rig.recordings.write(call, wav, "tenant-a")
        await store.call_ended(call, "caller_goodbye", [], 0, ref)
        r = await client.get(f"/calls/{call}/recording", headers=a)
        assert r.status_code == 200 and r.content == wav and r.headers["content-type"] == "audio/wav"
        assert (await client.get(f"/calls/{call}/recording", headers=AUTH)).content == wav  # the operator
        assert (await client.get(f"/calls/{call}/recording", headers=b)).status_code == 404
        data_path = rig.recordings.root / "tenant-a" / f"{call}.wav.enc"
        blob = data_path.read_bytes()
        data_path.write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))  # one flipped bit
        r = await client.get(f"/calls/{call}/recording", headers=a)
        assert r.status_code == 409 and r.json()["error"]["code"] == "recording_unreadable"
        rig.recordings.delete(ref)
        assert (await client.get(f"/calls/{call}/recording", headers=a)).json()["error"]["code"] == "recording_not_found"
        bare = await store.call_started("inbound", "+79161112233", "olga")
        assert (await client.get(f"/calls/{bare}/recording", headers=a)).status_code == 404
    finally:
        dependencies.bind_recordings(None)


async def test_a_tenants_personas_use_no_more_voices_than_its_plan(rig, client, redis_server, monkeypatch):
    import uuid

    from billing.gate import UsageGate
    from billing.metering import UsageMeter
    from billing.plans import load_plans
    from billing.subscriptions import SubscriptionState, SubscriptionStore
    from infra.auth import issue_session_token

    monkeypatch.setenv("SECRETARY_JWT_SECRET", "voices-test-jwt-secret-0123456789abcdef")
    get_settings.cache_clear()
    subs = SubscriptionStore(rig.store.url)
    gate = UsageGate(UsageMeter(redis_server.url, rig.store.url), load_plans(), subs, plan_ttl_s=0)
    dependencies.bind(rig.store, dependencies._modem, gate=gate)
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    await subs.apply_event(
        "stripe", uuid.uuid4().hex, "t", SubscriptionState(tenant, "basic", "active", "stripe", "sub_" + tenant, None)
    )
    headers = {"Authorization": f"Bearer {issue_session_token('u', tenant, 'owner')}"}
    names = [f"v{i}-{tenant}" for i in range(4)]
    try:
        for name, voice in zip(names[:3], ("joe", "irina", "joe"), strict=True):  # two distinct voices
            assert (
                await client.post("/personas", json={**PERSONA, "name": name, "voice": voice}, headers=headers)
            ).status_code == 201
        r = await client.post("/personas", json={**PERSONA, "name": names[3], "voice": "boris"}, headers=headers)
        assert r.status_code == 402
        assert (r.json()["error"], r.json()["metric"], r.json()["limit"], r.json()["used"]) == (
            "usage_limit_exceeded",
            "voices",
            2,
            3,
        )
        # Changing a persona's voice is fine while the count stays within the plan...
        r = await client.put(f"/personas/{names[1]}", json={**PERSONA, "name": names[1], "voice": "boris"}, headers=headers)
        assert r.status_code == 200
        # ...and refused when it would add one.
        r = await client.put(f"/personas/{names[0]}", json={**PERSONA, "name": names[0], "voice": "irina"}, headers=headers)
        assert r.status_code == 402
        assert (
            await client.post("/personas", json={**PERSONA, "name": f"op-{tenant}", "voice": "x"}, headers=AUTH)
        ).status_code == 201  # the operator's shared personas: no plan
    finally:
        dependencies.bind(rig.store, dependencies._modem)
        await gate.close()


async def test_event_streams_are_capped_per_tenant_and_end_when_idle(rig, client, monkeypatch):
    """Issue 20: SSE streams had no cap and no timeout. A third stream of one tenant is 429; a
    stream with no event for the idle timeout ends (EventSource then resumes with Last-Event-ID)."""
    monkeypatch.setenv("SECRETARY_MAX_STREAMS_PER_TENANT", "2")
    monkeypatch.setenv("SECRETARY_STREAM_IDLE_TIMEOUT_S", "1.5")
    get_settings.cache_clear()
    try:
        async with (
            client.stream("GET", "/calls/events", headers=AUTH) as one,
            client.stream("GET", "/calls/events", headers=AUTH) as two,
        ):
            assert one.status_code == two.status_code == 200
            third = await client.get("/calls/events", headers=AUTH)
            assert third.status_code == 429 and third.json()["error"]["code"] == "too_many_streams"
            async with asyncio.timeout(15):
                _ = [line async for line in one.aiter_lines()]  # the server ends an idle stream
        async with asyncio.timeout(15), client.stream("GET", "/calls/events", headers=AUTH) as again:
            assert again.status_code == 200  # the places were given back
    finally:
        monkeypatch.delenv("SECRETARY_MAX_STREAMS_PER_TENANT")
        monkeypatch.delenv("SECRETARY_STREAM_IDLE_TIMEOUT_S")
        get_settings.cache_clear()


async def test_a_strangers_session_gets_403_on_every_modem_route_and_the_lines_tenant_does_not(rig, client, monkeypatch):
    """Issue 20: a self-registered owner controlled the installation's modem (dial, SMS, hang-up, events,
    CallList with the caller's full number). The line belongs to SECRETARY_MODEM_TENANT and the operator."""
    from infra.auth import issue_session_token

    monkeypatch.setenv("SECRETARY_JWT_SECRET", "modem-test-jwt-secret-0123456789abcdef")
    monkeypatch.setenv("SECRETARY_MODEM_TENANT", "tenant-line")
    get_settings.cache_clear()
    stranger = {"Authorization": f"Bearer {issue_session_token('user-x', 'tenant-stranger', 'owner')}"}
    owner = {"Authorization": f"Bearer {issue_session_token('user-l', 'tenant-line', 'owner')}"}
    modem_routes = [
        ("GET", "/modem/status"),
        ("GET", "/modem/diagnostics/Imei"),
        ("GET", "/modem/diagnostics/CallList"),
        ("GET", "/calls/active"),
        ("GET", "/calls/events"),
        ("POST", "/calls"),
        ("POST", "/calls/abc/hangup"),
        ("POST", "/sms"),
    ]
    bodies = {"/calls": {"number": "+79161234567"}, "/sms": {"number": "+79161234567", "text": "hi"}}
    for method, path in modem_routes:
        r = await client.request(method, path, json=bodies.get(path), headers=stranger)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", (method, path, r.text)
    assert (await client.get("/modem/status", headers=owner)).status_code == 200
    assert (await client.get("/modem/status", headers=AUTH)).status_code == 200  # the operator
