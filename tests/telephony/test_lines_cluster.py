"""Two registered lines on two nodes of the real cluster, answering two calls at the same time.

Line A's modem is on the ``office`` node, line B's on ``office-b`` (tests/conftest.py). The
operator registers them for two tenants with two personas; each line's ingress actor lands on
its own modem's node; both callers ring at once and are answered by their line's persona; each
tenant's history shows its own call and not the other's.
"""

from __future__ import annotations

import secrets
from datetime import datetime

import httpx
import pytest
from ray.util.state import list_actors, list_nodes

from privacy.policy import load_policy
from telephony.ingress_actor import line_actor_name
from telephony.simulator.modem import SimConfig
from telephony.simulator.thread import SimulatorThread
from tests.cluster_modem import LINE_A, LINE_B, LINES_DIR, wait_for
from tests.telephony.ingress_rig import caller_script

pytestmark = pytest.mark.cluster
DASHBOARD = "http://127.0.0.1:8265"


@pytest.fixture(scope="module")
def line_sims(cluster):
    with (
        SimulatorThread(LINES_DIR / LINE_A, SimConfig(imei=LINE_A, ring_period_s=0.5)) as a,
        SimulatorThread(LINES_DIR / LINE_B, SimConfig(imei=LINE_B, ring_period_s=0.5)) as b,
    ):
        yield {LINE_A: a, LINE_B: b}


def signed_up(cluster: str, business: str) -> tuple[str, dict]:
    """A new tenant through the public sign-up (a trial of the basic plan) and its owner's session."""
    email = f"owner-{secrets.token_hex(4)}@lines.example"
    r = httpx.post(
        f"{cluster}/billing/auth/signup",
        json={
            "business_name": business,
            "email": email,
            "password": "lines-password-123",
            "accept_privacy_policy": True,
            "privacy_policy_version": str(load_policy()["version"]),
        },
        timeout=30,
    )
    assert r.status_code == 201, r.text
    return r.json()["tenant_id"], {"Authorization": f"Bearer {r.json()['token']}"}


def test_two_lines_on_two_nodes_answer_at_once(cluster, modem_admin, line_sims):
    (tenant_a, owner_a), (tenant_b, owner_b) = signed_up(cluster, "Dental A"), signed_up(cluster, "Стоматология Б")
    owners = {LINE_A: owner_a, LINE_B: owner_b}
    for imei, tenant, persona in ((LINE_A, tenant_a, "anna"), (LINE_B, tenant_b, "marina")):
        r = modem_admin.put(f"/lines/{imei}", json={"tenant_id": tenant, "persona": persona})
        assert r.status_code == 200, r.text
    try:

        def both_ready():
            items = modem_admin.get("/lines", timeout=30).json()["items"]
            ready = {x["imei"] for x in items if x["status"].get("modem") == "ready"}
            return {LINE_A, LINE_B} <= ready

        wait_for(both_ready, 180, "both lines ready")

        # Each line's actor is on the node that has its modem, and they are different nodes.
        nodes = {n.node_id: n for n in list_nodes(address=DASHBOARD, detail=True) if n.state == "ALIVE"}
        actors = {a.name: a for a in list_actors(address=DASHBOARD, filters=[("state", "=", "ALIVE")], detail=True)}
        where = {imei: actors[line_actor_name(imei)].node_id for imei in (LINE_A, LINE_B)}
        assert where[LINE_A] != where[LINE_B]
        for imei, node_id in where.items():
            assert nodes[node_id].resources_total.get(f"line_{imei}") == 1

        # Both callers ring at once.
        script = caller_script((7.0, "What time do you open tomorrow?"), (15.0, "Thank you. Goodbye."), total_s=30)
        for imei, sim in line_sims.items():
            sim.call(sim.modem.uplink.clear)
            sim.call(sim.modem.incoming_call, "+79035557" + imei[-3:], script)

        def ended(imei: str):
            with httpx.Client(base_url=str(modem_admin.base_url), headers=owners[imei], timeout=30) as owner:
                items = owner.get("/calls", params={"limit": 20}).json()["items"]
            return next((c for c in items if c["line"] == imei and c["status"] == "ended"), None)

        a = wait_for(lambda: ended(LINE_A), 120, "line A's call ended")
        b = wait_for(lambda: ended(LINE_B), 120, "line B's call ended")
        assert a["persona"] == "anna" and b["persona"] == "marina"
        assert a["transcript"][0]["text"].startswith("Hello, this is Anna")
        assert "Марина" in b["transcript"][0]["text"], b["transcript"][0]
        assert all(c["answered_at"] and c["turns"] >= 2 for c in (a, b))
        span = {
            imei: (datetime.fromisoformat(c["answered_at"]), datetime.fromisoformat(c["ended_at"]))
            for imei, c in ((LINE_A, a), (LINE_B, b))
        }
        assert span[LINE_A][0] < span[LINE_B][1] and span[LINE_B][0] < span[LINE_A][1]  # the two calls overlapped

        # Each tenant sees its own line and its own call, not the other's.
        with httpx.Client(base_url=str(modem_admin.base_url), headers=owners[LINE_B], timeout=30) as owner_b:
            assert [x["imei"] for x in owner_b.get("/lines").json()["items"]] == [LINE_B]
            assert owner_b.get(f"/lines/{LINE_A}").status_code == 404
            assert owner_b.get(f"/calls/{a['id']}").status_code == 404
    finally:
        for imei in (LINE_A, LINE_B):
            modem_admin.delete(f"/lines/{imei}")  # drained and removed: later tests see no extra lines
