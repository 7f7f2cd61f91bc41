"""`secretary modem-sim` in its own process: the driver answers its call, hears the caller's WAV,
and what the driver plays is recorded to the uplink file."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import numpy as np

from infra.audio import decode_audio, wav_bytes
from telephony.number_policy import NumberPolicy
from telephony.sim7600 import IncomingCall, SIM7600Driver


async def test_modem_sim_cli_call_with_a_real_driver(tmp_path: Path):
    t = np.arange(8000) / 8000
    caller = (np.sin(2 * np.pi * 300 * t) * 6000).astype("<i2")
    (tmp_path / "caller.wav").write_bytes(wav_bytes(caller, 8000))
    ports, record = tmp_path / "ports", tmp_path / "uplink.wav"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        "modem-sim",
        "--dir",
        str(ports),
        "--call",
        "+79161234567",
        "--wav",
        str(tmp_path / "caller.wav"),
        "--after",
        "1.0",
        "--record",
        str(record),
        "--duration",
        "4",
        stdout=subprocess.PIPE,
    )
    for _ in range(100):
        if (ports / "audio").exists():
            break
        await asyncio.sleep(0.05)
    events: list = []
    driver = SIM7600Driver(ports / "at", ports / "audio", NumberPolicy(), events.append)
    await driver.connect()
    try:
        for _ in range(100):
            if any(isinstance(e, IncomingCall) for e in events):
                break
            await asyncio.sleep(0.05)
        assert IncomingCall("+79161234567") in events
        await driver.answer()
        audio = await driver.start_audio()
        reply = (np.sin(2 * np.pi * 700 * t) * 6000).astype("<i2").tobytes()
        audio.play(reply)
        heard = bytearray()
        async for frame in audio.frames():
            heard += frame
            if len(heard) >= len(caller) * 2:
                break
        assert bytes(heard[:3200]) == caller.tobytes()[:3200]
    finally:
        await driver.close()
    out, _ = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0 and b"uplink recorded" in out
    uplink = decode_audio(record.read_bytes(), 8000).samples
    spectrum = np.abs(np.fft.rfft(uplink[:8000] if len(uplink) >= 8000 else uplink, n=8000))
    assert abs(int(np.argmax(spectrum)) - 700) < 10  # the secretary's 700 Hz reply reached the caller
