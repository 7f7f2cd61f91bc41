"""The node-kill drill: the office machine with the modem loses power in the middle of a call.

Two calls run at once: one on the modem line (its ingress actor on the office node) and one over
the WebSocket (served on the head). The office node is SIGKILLed, every process of it at once,
like a machine whose plug is pulled. Then:

- the WebSocket call, on the other node, goes on and ends normally;
- the modem call's record is closed within seconds (``ingress_lost``, admin/line_watch.py),
  not left "active" until the machine returns;
- the machine comes back (its node restarted), Ray restarts the detached ingress actor there,
  the line is ready again and answers the next call, and Serve reports every application healthy.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import yaml

from cli.local_cluster import DEFAULT_PROFILE
from tests.cluster_modem import known_calls, wait_for, wait_for_call_end
from tests.deployments.ingress.test_call_russian import call as ws_call
from tests.messages.test_message_from_a_phone_call import piper_script
from tests.messages.test_messages_cluster import stranger

pytestmark = pytest.mark.cluster
DASHBOARD = "http://127.0.0.1:8265"


def active_modem_call(admin: httpx.Client, before: set[str]) -> dict | None:
    items = admin.get("/calls", params={"limit": 10}).json()["items"]
    return next((c for c in items if c["id"] not in before and c["status"] == "active" and c["line"] == "modem"), None)


PROFILE_APPS = [a["name"] for a in yaml.safe_load(DEFAULT_PROFILE.read_text())["applications"]]


def serve_healthy() -> bool:
    apps = httpx.get(f"{DASHBOARD}/api/serve/applications/", timeout=10).json()["applications"]
    return all(a["status"] == "RUNNING" for a in apps.values()) and len(apps) == len(PROFILE_APPS)


async def test_killing_the_modem_node_mid_call_loses_only_that_call(
    local_cluster, cluster, api_key, modem_admin, modem_sim, tts_service
):
    if local_cluster is None:
        pytest.skip("the drill kills a node of the cluster this session started")
    nodes = local_cluster.nodes
    # The modem call: a caller who keeps talking for a minute.
    modem_script = await piper_script(
        tts_service, (6.0, "Hello, I would like to book a table for Saturday evening."), total_s=60
    )
    killed = False
    try:
        before = known_calls(modem_admin)
        modem_sim.call(modem_sim.modem.uplink.clear)
        modem_sim.call(modem_sim.modem.incoming_call, stranger(), modem_script)
        on_modem = await asyncio.to_thread(
            wait_for, lambda: active_modem_call(modem_admin, before), 30, "an active modem call"
        )

        # The WebSocket call on the head, and the office machine's plug pulled while both run.
        ws_script = await piper_script(tts_service, (9.0, "What time do you open on Saturday?"), total_s=26)
        ws = asyncio.create_task(ws_call(cluster, api_key, f"?sample_rate=8000&persona=anna&caller={stranger()}", ws_script))
        await asyncio.sleep(6)
        killed_at = time.monotonic()
        await asyncio.to_thread(nodes.kill, "office")
        killed = True
        modem_sim.call(modem_sim.modem.remote_hang_up)  # the caller hears silence and hangs up

        reply, events = await ws
        ended = events[-1]
        assert ended["type"] == "call.ended" and ended["reason"] == "client_hangup", ended
        assert len(reply) > 8000 * 2 * 3  # the greeting and an answer: seconds of audio
        assert any(t["speaker"] == "assistant" for t in ended["record"]["turns"][1:]), ended["record"]["turns"]

        def modem_call_closed():
            record = modem_admin.get(f"/calls/{on_modem['id']}").json()
            return record if record["status"] == "ended" else None

        record = await asyncio.to_thread(wait_for, modem_call_closed, 60, "the lost call's record closed")
        assert record["end_reason"] == "ingress_lost", record
        closed_after_s = time.monotonic() - killed_at
    finally:
        if killed:  # the machine comes back, whatever the assertions above found: later tests need it
            await asyncio.to_thread(nodes.restart, "office")

    # The line is ready again, answers a call, and Serve is whole.

    def line_ready():
        r = modem_admin.get("/modem/status", timeout=10)
        return r.status_code == 200 and r.json()["ingress"]["modem"] == "ready"

    await asyncio.to_thread(wait_for, line_ready, 120, "the modem line ready again", 2.0)
    assert await asyncio.to_thread(nodes.alive_nodes) == 1 + len(local_cluster.worker_nodes)
    await asyncio.to_thread(wait_for, serve_healthy, 60, "every Serve application running")
    before = known_calls(modem_admin)
    modem_sim.call(modem_sim.modem.uplink.clear)
    again = await piper_script(tts_service, (6.0, "Thank you, goodbye."), total_s=14)
    modem_sim.call(modem_sim.modem.incoming_call, stranger(), again)
    after = await asyncio.to_thread(wait_for_call_end, modem_admin, before)
    assert after["line"] == "modem" and after["turns"] >= 1 and after["end_reason"] != "ingress_lost", after
    print(f"drill: the lost call's record closed {closed_after_s:.1f} s after the node died")
