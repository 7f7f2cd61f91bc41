"""The test cluster's simulated modem and its admin client, one for the whole session.

The simulator runs in a thread of the test process at the port paths the test cluster was given;
the ingress actor (created by the admin app on the node with ``modem: 1``) answers it.
"""

from __future__ import annotations

import time

import httpx
import pytest

from infra.settings import PROJECT_ROOT
from telephony.simulator.modem import SimConfig
from telephony.simulator.thread import SimulatorThread
from tests.conftest import ADMIN_TOKEN

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
# Two registered lines (telephony/lines.py): line A's modem on the office node, line B's on office-b.
LINE_A, LINE_B = "862636050029320", "862636050029338"
LINES_DIR = PROJECT_ROOT / "var" / "test-lines"


def line_ports(imei: str) -> dict[str, str]:
    return {"at": str(LINES_DIR / imei / "at"), "audio": str(LINES_DIR / imei / "audio")}


@pytest.fixture(scope="session")
def modem_sim(cluster):
    with SimulatorThread(PROJECT_ROOT / "var" / "test-modem", SimConfig(ring_period_s=0.5)) as s:
        yield s


@pytest.fixture(scope="session")
def modem_admin(cluster, modem_sim):
    """The cluster's admin API with the operator's token, once the modem line is ready."""
    with httpx.Client(base_url=f"{cluster}/admin", headers=AUTH, timeout=60) as client:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                r = client.get("/modem/status")
                if r.status_code == 200 and r.json()["ingress"]["modem"] == "ready":
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1.0)
        else:
            pytest.fail(f"the modem ingress never became ready: {r.status_code} {r.text}")
        yield client


def wait_for(check, within_s: float, what: str, every_s: float = 1.0):
    """``check()``'s first truthy result within ``within_s`` (an HTTP error counts as not yet)."""
    deadline, last = time.monotonic() + within_s, None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(every_s)
    raise AssertionError(f"{what} not within {within_s} s (last: {last!r})")


def known_calls(admin: httpx.Client) -> set[str]:
    return {c["id"] for c in admin.get("/calls", params={"limit": 100}).json()["items"]}


def wait_for_call_end(admin: httpx.Client, before: set[str], within_s: float = 90.0) -> dict:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        items = admin.get("/calls", params={"limit": 5}).json()["items"]
        fresh = [c for c in items if c["id"] not in before and c["status"] == "ended"]
        if fresh:
            return fresh[0]
        time.sleep(0.5)
    raise AssertionError(f"no finished call within {within_s} s: {admin.get('/calls').json()}")
