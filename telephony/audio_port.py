"""The modem's raw PCM port (if04): 20 ms frames in, real-time paced frames out.

Downlink reads split anywhere, odd byte counts included, so frames are reassembled from a
buffer. Uplink must be paced at exactly one frame per 20 ms and never burst to catch up (spec
§4): a pacer task writes one frame per tick, silence when it has none, and counts those ticks as
underruns while a reply is playing. Frames come from a queue (:meth:`play`) or, for a live call,
are pulled from a ``source`` at the tick itself, so no audio waits in a queue of ours.

The port starts by writing ``prime_frames`` of silence: from then on the modem's own buffer
(about ten frames, spec §5) stays that far ahead of its playout, which absorbs our scheduling
jitter for the price of that much latency. The cushion adapts, like a jitter buffer: when a stall
of ours outlasts it, the missed frames are written back to back once we run again, so the modem
has played silence for the excess and now holds that many frames more. A busy machine thus earns
a deeper cushion, up to ``max_lead_frames``; a stall longer than that skips the excess ticks (no
burst to catch up, spec §4) and refills the cushion to that depth, never to nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import serial_asyncio

from infra import metrics
from infra.logging import get_logger

log = get_logger(__name__)
FRAME_S = 0.020
UNDERRUNS = metrics.counter("modem_uplink_underruns_total", "Uplink ticks with no audio while a reply played")
TICK_LATE = metrics.histogram(
    "modem_uplink_tick_late_seconds",
    "How late the uplink pacer woke for each frame",
    boundaries=(0.002, 0.005, 0.01, 0.02, 0.04, 0.06, 0.1, 0.2, 0.5),
)
MAX_STALLS_KEPT = 50


class AudioPort:
    def __init__(self, path: str, sample_rate: int = 8000, prime_frames: int = 2, max_lead_frames: int = 5) -> None:
        self.path = path
        self.prime_frames = prime_frames
        self.max_lead_frames = max(prime_frames, max_lead_frames)
        self.source: Callable[[], bytes | None] | None = None  # pulled every tick when the queue is empty
        self.frame_bytes = sample_rate * 2 * 20 // 1000  # 320 B at 8 kHz, 640 B at 16 kHz
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.underruns = 0
        self.frames_sent = 0
        # Ticks the pacer woke more than a frame late: (frame index, seconds late). A stall beyond
        # the modem's cushion is a gap the caller hears, so where they fall is worth knowing.
        self.stalls: list[tuple[int, float]] = []
        self.late_max_s = 0.0
        self._was_stalled = False
        self._playing = False
        self._pacer: asyncio.Task | None = None
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await serial_asyncio.open_serial_connection(url=self.path, baudrate=115200)
        for metric in (UNDERRUNS, TICK_LATE):
            metric.prepare()  # here, not at the pacer's first tick
        self._pacer = asyncio.create_task(self._pace(), name="uplink-pacer")

    async def close(self) -> None:
        if self._pacer:
            self._pacer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pacer
        if self.writer:
            with contextlib.suppress(Exception):
                self.writer.close()

    async def frames(self) -> AsyncIterator[bytes]:
        """Downlink frames, reassembled whatever the read sizes; ends when the port closes."""
        assert self.reader is not None
        buf = bytearray()
        n = self.frame_bytes
        while True:
            try:
                data = await self.reader.read(4096)
            except OSError:
                return
            if not data:
                return
            buf += data
            while len(buf) >= n:
                yield bytes(buf[:n])
                del buf[:n]

    def play(self, pcm: bytes) -> None:
        """Queue S16LE audio at the port's rate; the last partial frame is padded with silence."""
        n = self.frame_bytes
        for i in range(0, len(pcm), n):
            frame = pcm[i : i + n]
            self._queue.put_nowait(frame + b"\x00" * (n - len(frame)))
        self._playing = True

    def stop_playback(self) -> int:
        """Drop everything queued (barge-in); returns the number of frames dropped."""
        dropped = self._queue.qsize()
        while not self._queue.empty():
            self._queue.get_nowait()
        self._playing = False
        return dropped

    def finish_playback(self) -> None:
        """The reply is complete: an empty queue from now on is not an underrun."""
        self._playing = False

    @property
    def failed(self) -> bool:
        """The uplink pacer gave up (a wedged or vanished OUT endpoint)."""
        return self._pacer is not None and self._pacer.done()

    @property
    def queued_s(self) -> float:
        return self._queue.qsize() * FRAME_S

    def _pull(self) -> bytes | None:
        assert self.source is not None
        try:
            return self.source()
        except Exception:  # a broken source must not stop the clock: the line carries silence
            log.exception("audio_port.source_failed")
            return None

    def _note_lateness(self, late_s: float) -> None:
        late_s = max(0.0, late_s)
        TICK_LATE.observe(late_s)
        self.late_max_s = max(self.late_max_s, late_s)
        # One entry per stall: the ticks written back to back after it are late by as much, less.
        stalled = late_s > FRAME_S
        if stalled and not self._was_stalled and len(self.stalls) < MAX_STALLS_KEPT:
            self.stalls.append((self.frames_sent, round(late_s, 3)))
        self._was_stalled = stalled

    async def _pace(self) -> None:
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        silence = b"\x00" * self.frame_bytes
        assert self.writer is not None
        self.writer.write(silence * self.prime_frames)
        wedged_since: float | None = None
        while True:
            next_tick += FRAME_S
            delay = next_tick - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
                delay = next_tick - loop.time()  # the stall may have been this very sleep
            self._note_lateness(-delay)
            if delay < -self.max_lead_frames * FRAME_S:
                # A stall longer than the deepest cushion: the excess ticks are gone. Skip them and
                # write the cushion plus this tick back to back, or every later hiccup is heard too.
                next_tick = loop.time() - self.max_lead_frames * FRAME_S
            if not self._queue.empty():
                frame = self._queue.get_nowait()
            elif self.source is not None and (pulled := self._pull()) is not None:
                frame = pulled + b"\x00" * (self.frame_bytes - len(pulled))
            else:
                frame = silence
                if self._playing:
                    self.underruns += 1
                    UNDERRUNS.inc()
            transport = self.writer.transport
            if transport.is_closing():
                return  # the port vanished: the driver notices and ends the call
            try:
                self.writer.write(frame)
            except OSError:
                return
            self.frames_sent += 1
            # The modem blocks writes when its endpoint is full; ours then pile up in the transport.
            # More than a second of backlog for a second: the OUT endpoint is wedged (spec §4).
            # (Never awaited drain(): a pacer that may block cannot keep time, or be cancelled promptly.)
            if transport.get_write_buffer_size() > self.frame_bytes * 50:
                wedged_since = wedged_since if wedged_since is not None else loop.time()
                if loop.time() - wedged_since > 1.0:
                    return
            else:
                wedged_since = None
