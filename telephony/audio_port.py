"""The modem's raw PCM port (if04): 20 ms frames in, real-time paced frames out.

Downlink reads split anywhere, odd byte counts included, so frames are reassembled from a
buffer. Uplink must be paced at exactly one frame per 20 ms and never burst to catch up (spec
§4): a pacer task writes one frame per tick from a queue, silence when the queue is empty, and
counts those ticks as underruns while a reply is playing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import serial_asyncio

from infra import metrics

FRAME_S = 0.020
UNDERRUNS = metrics.counter("modem_uplink_underruns_total", "Uplink ticks with no audio while a reply played")


class AudioPort:
    def __init__(self, path: str, sample_rate: int = 8000) -> None:
        self.path = path
        self.frame_bytes = sample_rate * 2 * 20 // 1000  # 320 B at 8 kHz, 640 B at 16 kHz
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.underruns = 0
        self.frames_sent = 0
        self._playing = False
        self._pacer: asyncio.Task | None = None
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await serial_asyncio.open_serial_connection(url=self.path, baudrate=115200)
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
            frame = pcm[i:i + n]
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
    def queued_s(self) -> float:
        return self._queue.qsize() * FRAME_S

    async def _pace(self) -> None:
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        silence = b"\x00" * self.frame_bytes
        assert self.writer is not None
        while True:
            next_tick += FRAME_S
            delay = next_tick - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -5 * FRAME_S:
                next_tick = loop.time()  # we fell far behind: resync the clock, never burst
            if self._queue.empty():
                frame = silence
                if self._playing:
                    self.underruns += 1
                    UNDERRUNS.inc()
            else:
                frame = self._queue.get_nowait()
            try:
                self.writer.write(frame)
                await asyncio.wait_for(self.writer.drain(), 1.0)
            except (TimeoutError, OSError):
                return  # a wedged or vanished OUT endpoint: the driver notices and ends the call
            self.frames_sent += 1
