"""The uplink pacer's clock: what it writes, and when, around a stall of its own event loop.

The writer is a recorder rather than a PTY, so what is checked is the pacer's decision (how many
frames it writes back to back), not the machine's scheduling.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from telephony import audio_port
from telephony.audio_port import AudioPort


class _Transport:
    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0


class RecordingWriter:
    """Stands in for the serial StreamWriter: notes when each write happened and its size."""

    def __init__(self) -> None:
        self.transport = _Transport()
        self.writes: list[tuple[float, int]] = []

    def write(self, data: bytes) -> None:
        self.writes.append((time.monotonic(), len(data)))

    def bursts(self, frame_bytes: int, within_s: float = 0.004) -> list[int]:
        """Frames per group of writes made back to back (within a few ms of each other)."""
        groups: list[int] = []
        last = None
        for at, size in self.writes:
            if last is not None and at - last <= within_s:
                groups[-1] += size // frame_bytes
            else:
                groups.append(size // frame_bytes)
            last = at
        return groups


async def _paced(port: AudioPort, stall_s: float) -> RecordingWriter:
    writer = RecordingWriter()
    port.writer = writer  # type: ignore[assignment]
    port.play(b"\x01\x00" * 8000 * 2)  # two seconds of reply
    pacer = asyncio.create_task(port._pace())
    await asyncio.sleep(0.3)
    stalled_at = time.monotonic()
    time.sleep(stall_s)  # noqa: ASYNC251 -- the point: the event loop is blocked, the pacer cannot run
    await asyncio.sleep(0.3)
    pacer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pacer
    writer.writes = [w for w in writer.writes if w[0] >= stalled_at]
    return writer


async def test_a_long_stall_refills_the_deepest_cushion_without_replaying_the_missed_ticks():
    port = AudioPort("unused", prime_frames=2, max_lead_frames=5)
    writer = await _paced(port, stall_s=0.3)
    bursts = writer.bursts(port.frame_bytes)
    # Fifteen ticks were missed. The modem has played silence for them; what is written at once is
    # the deepest cushion plus this tick, no more (a burst would overflow the modem, spec §4), no
    # less (a machine that stalls this long will stall again, and with no cushion left every later
    # hiccup would be heard).
    assert bursts[0] == port.max_lead_frames + 1, bursts
    assert max(bursts[1:]) <= port.max_lead_frames + 1, bursts
    # Nothing of the reply was dropped: what was not written yet is still queued.
    sent = sum(size for _, size in writer.writes) // port.frame_bytes
    assert sent < 25 and port.queued_s > 1.0


async def test_a_shorter_stall_is_made_up_frame_for_frame():
    port = AudioPort("unused", prime_frames=2, max_lead_frames=5)
    writer = await _paced(port, stall_s=0.05)
    bursts = writer.bursts(port.frame_bytes)
    # Two or three ticks missed (more on a busy machine): all of them are written at once, so the
    # modem keeps its cushion, deeper by whatever it had to play as silence.
    assert 3 <= bursts[0] <= port.max_lead_frames + 1, bursts


async def test_each_stall_is_noted_once_with_where_it_fell_and_how_late():
    audio_port.TICK_LATE.prepare()  # as open() does: the metric's backend is not made at the pacer's first tick
    port = AudioPort("unused", prime_frames=2, max_lead_frames=5)
    await _paced(port, stall_s=0.3)
    # One stall, one entry: the ticks written back to back after it are late too, but they are
    # the same stall. It fell ~0.3 s into the call (about 15 frames in) and lasted about 0.3 s.
    assert len(port.stalls) == 1, port.stalls
    ((frame, late_s),) = port.stalls
    assert 5 <= frame <= 25 and 0.25 <= late_s < 1.0
    assert port.late_max_s == pytest.approx(late_s, abs=0.001)


def test_the_cushion_is_never_shallower_than_the_priming():
    assert AudioPort("unused", prime_frames=8, max_lead_frames=5).max_lead_frames == 8
