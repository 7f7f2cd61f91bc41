"""``secretary modem-sim``: run the simulated SIM7600G-H until Ctrl-C, optionally placing a call.

It prints the stable port paths to point a driver at; with ``--call NUMBER --wav FILE`` it rings
after ``--after`` seconds and, once answered, plays the WAV (any format, resampled to 8 kHz) as
the caller's voice and writes what the secretary said to ``--record``.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import numpy as np

from infra.audio import decode_audio, float_to_pcm16, wav_bytes
from telephony.simulator.faults import Faults
from telephony.simulator.modem import SimConfig, SimulatedModem


async def run_simulator(
    link_dir: Path,
    call: str | None,
    wav: Path | None,
    after_s: float,
    record: Path | None,
    seed: int,
    duration_s: float | None,
) -> None:
    modem = SimulatedModem(link_dir, SimConfig(), Faults(seed=seed))
    await modem.start()
    print(f"AT port:    {modem.at_path}\naudio port: {modem.audio_path}", flush=True)
    try:
        if call:
            await asyncio.sleep(after_s)
            caller = b""
            if wav:
                data = await asyncio.to_thread(wav.read_bytes)
                caller = float_to_pcm16(decode_audio(data, 8000).samples).tobytes()
            modem.incoming_call(call, caller)
            print(f"ringing with {call}", flush=True)
        await asyncio.sleep(duration_s if duration_s is not None else 10**9)
    finally:
        if record:
            await asyncio.to_thread(record.write_bytes, wav_bytes(np.frombuffer(bytes(modem.uplink), "<i2"), 8000))
            print(
                f"uplink recorded to {record} ({len(modem.uplink) / 16000:.1f} s, {modem.uplink_underruns} underruns)",
                flush=True,
            )
        await modem.stop()


def main(args) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            run_simulator(
                Path(args.dir),
                args.call,
                Path(args.wav) if args.wav else None,
                args.after,
                Path(args.record) if args.record else None,
                args.seed,
                args.duration,
            )
        )
    return 0
