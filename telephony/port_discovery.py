"""Finding the SIM7600's AT and audio ports: by USB interface number, reported by stable path.

``ttyUSBn`` names change when the modem re-enumerates (spec §1), so the ports are matched on the
USB vendor/product and the interface number, and reported as their ``/dev/serial/by-id`` links
when those exist. Explicit paths from settings always win.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SIMCOM_VID = 0x1E0E
# product id -> (AT interface, audio interface); composition 9011 shifts the ports by two.
COMPOSITIONS = {0x9001: (2, 4), 0x9011: (4, 6)}
BY_ID = Path("/dev/serial/by-id")


class ModemNotFound(RuntimeError):
    """No SIM7600 with both an AT and an audio port is plugged in."""


@dataclass(frozen=True)
class ModemPorts:
    at: str
    audio: str


def _interface(location: str | None) -> int | None:
    # pyserial's location looks like "1-1.3:1.2": configuration 1, interface 2.
    if not location or ":" not in location:
        return None
    try:
        return int(location.rsplit(".", 1)[-1])
    except ValueError:
        return None


def _stable(device: str, by_id: Path) -> str:
    try:
        for link in by_id.iterdir():
            if link.resolve() == Path(device).resolve():
                return str(link)
    except OSError:
        pass
    return device


def discover(ports: Iterable[Any] | None = None, by_id: Path = BY_ID) -> ModemPorts:
    """The first SIM7600 with both ports; ``ports`` are pyserial ``ListPortInfo`` objects."""
    return discover_all(ports, by_id)[0]


def discover_all(ports: Iterable[Any] | None = None, by_id: Path = BY_ID) -> list[ModemPorts]:
    """Every SIM7600 with both ports, in a stable order (``ModemNotFound`` if there is none)."""
    if ports is None:
        from serial.tools.list_ports import comports

        ports = comports()
    seen: dict[tuple[str, int], dict[int, str]] = {}
    for p in ports:
        if getattr(p, "vid", None) != SIMCOM_VID or getattr(p, "pid", None) not in COMPOSITIONS:
            continue
        iface = _interface(getattr(p, "location", None))
        if iface is not None:
            key = (getattr(p, "serial_number", None) or "", p.pid)
            seen.setdefault(key, {})[iface] = p.device
    found_ports = []
    for (_serial, pid), interfaces in sorted(seen.items()):
        at_if, audio_if = COMPOSITIONS[pid]
        if at_if in interfaces and audio_if in interfaces:
            found_ports.append(ModemPorts(_stable(interfaces[at_if], by_id), _stable(interfaces[audio_if], by_id)))
    if found_ports:
        return found_ports
    found = ", ".join(f"{pid:04x} interfaces {sorted(i)}" for (_s, pid), i in seen.items()) or "none"
    raise ModemNotFound(
        f"no SIM7600 (USB {SIMCOM_VID:04x}:{'/'.join(f'{p:04x}' for p in COMPOSITIONS)}) with AT and "
        f"audio ports found (SIMCom devices seen: {found}); set SECRETARY_MODEM_AT_PORT and "
        "SECRETARY_MODEM_AUDIO_PORT to choose the ports"
    )


def resolve_ports(at_port: str | None, audio_port: str | None) -> ModemPorts:
    """Explicit settings first (both or neither), else discovery."""
    if at_port and audio_port:
        return ModemPorts(at_port, audio_port)
    if at_port or audio_port:
        raise ModemNotFound("set both SECRETARY_MODEM_AT_PORT and SECRETARY_MODEM_AUDIO_PORT, or neither")
    return discover()


def probe_imei(at_port: str, timeout_s: float = 3.0) -> str:
    """Ask the modem on ``at_port`` for its IMEI (``AT+CGSN``), before any ingress opens the port."""
    import time

    import serial

    with serial.Serial(at_port, 115200, timeout=0.2) as port:
        port.reset_input_buffer()
        port.write(b"AT+CGSN\r")
        deadline, buffer = time.monotonic() + timeout_s, b""
        while time.monotonic() < deadline:
            buffer += port.read(256)
            lines = [line.strip() for line in buffer.decode(errors="replace").splitlines()]
            imei = next((line for line in lines if len(line) == 15 and line.isdigit()), None)
            if imei and "OK" in lines:
                return imei
            if "ERROR" in lines:
                break
    raise ModemNotFound(f"no IMEI from {at_port}: {buffer.decode(errors='replace').strip()!r}")


def map_lines(pairs: Iterable[ModemPorts] | None = None) -> dict[str, dict[str, str]]:
    """This node's modems by IMEI, as ``SECRETARY_MODEM_LINES`` takes them (``secretary node modems``)."""
    return {probe_imei(p.at): {"at": p.at, "audio": p.audio} for p in (pairs if pairs is not None else discover_all())}
