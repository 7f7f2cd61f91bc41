"""Joins a modem audio port to a call session for the length of one call.

Every downlink frame (the caller) goes into the session; the uplink pacer pulls the session's
next reply frame at its own 20 ms tick, so reply audio never waits in a queue of ours (each
frame queued is latency, and audio a barge-in must throw away). A tick with no frame inside a
reply is a gap the caller hears; the session counts those (``CallRecord.reply_gaps``). The bridge ends when the session
ends (after its last words have left), when the port closes (the call ended or the modem went
away), when the audio stalls, or when asked to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from infra.logging import get_logger
from pipeline.frames import FRAME_MS, AudioFrame
from pipeline.session import CallSession
from telephony.audio_port import AudioPort

log = get_logger(__name__)


@dataclass
class BridgeResult:
    reason: str  # why the audio stopped: "session_ended", "port_closed", "audio_stalled", "stopped"
    frames_in: int
    frames_out: int
    reply_gaps: int  # silences inside a reply (see CallRecord.reply_gaps)


class CallBridge:
    def __init__(self, session: CallSession, port: AudioPort, stall_s: float = 5.0, drain_timeout_s: float = 15.0) -> None:
        self.session, self.port = session, port
        self.stall_s, self.drain_timeout_s = stall_s, drain_timeout_s
        self.frames_in = self.frames_out = 0
        self._last_frame_at = 0.0
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    def _pull(self) -> bytes | None:
        """Called by the pacer once per tick: the next 20 ms of reply, or None (silence)."""
        frame = self.session.next_frame()
        if frame is None:
            return None
        self.frames_out += 1
        return frame.pcm

    async def _downlink(self) -> str:
        rate = self.session.config.sample_rate
        loop = asyncio.get_running_loop()
        async for pcm in self.port.frames():
            self._last_frame_at = loop.time()
            self.frames_in += 1
            await self.session.push(AudioFrame(pcm, rate))
        return "port_closed"

    async def _watchdog(self) -> str:
        """No caller audio for ``stall_s`` (a stalled downlink) or a dead uplink ends the call."""
        loop = asyncio.get_running_loop()
        self._last_frame_at = loop.time()
        while True:
            await asyncio.sleep(0.2)
            if self.port.failed or loop.time() - self._last_frame_at > self.stall_s:
                return "audio_stalled"

    async def run(self) -> BridgeResult:
        self.session.start()
        self.port.source = self._pull
        downlink = asyncio.create_task(self._downlink(), name="bridge-downlink")
        watchdog = asyncio.create_task(self._watchdog(), name="bridge-watchdog")
        ended = asyncio.create_task(self.session.ended.wait(), name="bridge-session-ended")
        stopped = asyncio.create_task(self._stop.wait(), name="bridge-stopped")
        tasks = (downlink, watchdog, ended, stopped)
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if downlink in done:
                reason = downlink.result()
            elif watchdog in done:
                reason = watchdog.result()
            elif ended in done:
                reason = "session_ended"
                await self._drain()
            else:
                reason = "stopped"
        finally:
            self.port.source = None
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        return BridgeResult(reason, self.frames_in, self.frames_out, self.session.record.reply_gaps)

    async def _drain(self) -> None:
        """Let the last words (the farewell) leave the modem's buffer before the line is hung up."""
        await asyncio.sleep((self.port.prime_frames + 2) * FRAME_MS / 1000)
