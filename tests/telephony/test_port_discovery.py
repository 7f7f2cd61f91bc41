"""Port discovery by USB interface number, for both compositions, with stable by-id paths."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from telephony.port_discovery import ModemNotFound, ModemPorts, discover, resolve_ports


def port(device, iface, pid=0x9001, vid=0x1E0E, serial="ABC"):
    return SimpleNamespace(device=device, vid=vid, pid=pid, serial_number=serial, location=f"1-1.3:1.{iface}")


def test_standard_composition(tmp_path):
    ports = [port(f"/dev/ttyUSB{i}", i) for i in range(5)] + [port("/dev/ttyACM0", 0, vid=0x2341, pid=0x43)]
    assert discover(ports, by_id=tmp_path) == ModemPorts("/dev/ttyUSB2", "/dev/ttyUSB4")


def test_shifted_composition_and_by_id_links(tmp_path):
    target = tmp_path / "ttyUSB9"
    target.touch()
    (tmp_path / "by-id").mkdir()
    (tmp_path / "by-id" / "usb-SimTech-if04-port0").symlink_to(target)
    ports = [port(str(target), 4, pid=0x9011)] + [port(f"/dev/ttyUSB{i}", i, pid=0x9011) for i in (2, 3, 5, 6)]
    found = discover(ports, by_id=tmp_path / "by-id")
    assert found == ModemPorts(str(tmp_path / "by-id" / "usb-SimTech-if04-port0"), "/dev/ttyUSB6")


def test_missing_audio_port_is_a_clear_error(tmp_path):
    with pytest.raises(ModemNotFound, match="9001 interfaces \\[2, 3\\]"):
        discover([port("/dev/ttyUSB2", 2), port("/dev/ttyUSB3", 3)], by_id=tmp_path)
    with pytest.raises(ModemNotFound, match="none"):
        discover([], by_id=tmp_path)


def test_settings_win_and_must_come_in_pairs():
    assert resolve_ports("/dev/a", "/dev/b") == ModemPorts("/dev/a", "/dev/b")
    with pytest.raises(ModemNotFound, match="both"):
        resolve_ports("/dev/a", None)
