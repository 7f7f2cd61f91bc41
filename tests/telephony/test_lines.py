"""The line registry on a real database, and modems found by their IMEI on simulated ports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cli.local_nodes import modem_node
from infra.database import upgrade
from telephony.lines import Line, LineRegistry, line_resource
from telephony.port_discovery import ModemNotFound, ModemPorts, map_lines, probe_imei
from telephony.simulator.modem import SimConfig
from telephony.simulator.thread import SimulatorThread

A, B = "862636050029320", "862636050029338"


async def test_lines_are_kept_per_tenant_and_changed_by_imei(db_url):
    await upgrade(db_url)
    lines = LineRegistry(db_url)
    await lines.put(Line(A, "t-a", "anna", "Reception"))
    await lines.put(Line(B, "t-b", "marina"))
    assert [x.imei for x in await lines.list()] == [A, B]
    assert [x.imei for x in await lines.list(tenant_id="t-b")] == [B]
    assert await lines.get(A, tenant_id="t-b") is None  # another tenant's line does not exist for them
    await lines.put(Line(B, "t-b", "anna", enabled=False))
    assert (await lines.get(B)).persona == "anna"
    assert [x.imei for x in await lines.list(enabled_only=True)] == [A]
    assert await lines.delete(B) and not await lines.delete(B)
    with pytest.raises(ValueError, match="15 digits"):
        await lines.put(Line("123", "t-a", "anna"))


def test_a_line_resource_is_named_by_its_imei():
    assert line_resource(A) == f"line_{A}"
    with pytest.raises(ValueError):
        line_resource("86263605002932O")
    node = modem_node("office-b", resources={}, lines={B: {"at": "/x/at", "audio": "/x/audio"}})
    assert node.resources == {f"line_{B}": 1} and node.labels == {"secretary.io/role": "modem"}
    assert json.loads(node.env["SECRETARY_MODEM_LINES"]) == {B: {"at": "/x/at", "audio": "/x/audio"}}


def test_two_modems_are_told_apart_by_imei(tmp_path):
    with (
        SimulatorThread(tmp_path / "a", SimConfig(imei=A)) as a,
        SimulatorThread(tmp_path / "b", SimConfig(imei=B)) as b,
    ):
        pairs = [ModemPorts(str(m.modem.at_path), str(m.modem.audio_path)) for m in (b, a)]
        assert probe_imei(pairs[1].at) == A
        assert map_lines(pairs) == {
            B: {"at": pairs[0].at, "audio": pairs[0].audio},
            A: {"at": pairs[1].at, "audio": pairs[1].audio},
        }
        # The operator's command prints the node's settings and its ray start flags.
        secretary = str(Path(sys.executable).with_name("secretary"))
        out = subprocess.run(
            [secretary, "node", "modems", "--pair", f"{pairs[1].at},{pairs[1].audio}"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        assert f'"{A}"' in out.stdout and f'"line_{A}": 1' in out.stdout and "secretary.io/role=modem" in out.stdout


def test_a_port_with_no_modem_behind_it_is_a_clear_error(tmp_path):
    import os
    import pty

    controller, device = pty.openpty()  # a serial port nothing answers on
    try:
        with pytest.raises(ModemNotFound, match="no IMEI"):
            probe_imei(os.ttyname(device), timeout_s=0.5)
    finally:
        os.close(controller)
        os.close(device)
