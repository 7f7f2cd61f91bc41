"""A real-time phone line for session tests: a scripted caller on one end, the session on the other.

Every 20 ms the line pushes the caller's next frame (speech from the script, else silence or
noise, plus an optional echo of what the session just played) and pulls one reply frame. What
the session played is kept with its timestamps, so tests can ask when audio started and stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import numpy as np

from infra.audio import decode_audio, float_to_pcm16
from pipeline.frames import FRAME_MS, AudioFrame
from pipeline.session import CallSession
from tests.speech import espeak_wav

RATE = 8000
FRAME = RATE * 2 * FRAME_MS // 1000


def say(text: str, voice: str = "en-us") -> bytes:
    return float_to_pcm16(decode_audio(espeak_wav(text, voice), RATE).samples * 0.9).tobytes()


def trim(pcm: bytes, threshold: int = 200) -> bytes:
    """The clip without the silence espeak pads it with, so scripted pauses are exact."""
    x = np.frombuffer(pcm, "<i2")
    loud = np.flatnonzero(np.abs(x) > threshold)
    return x[loud[0] : loud[-1] + 1].tobytes() if loud.size else b""


@dataclass
class Utterance:
    at_s: float
    pcm: bytes


@dataclass
class PhoneLine:
    session: CallSession
    script: list[Utterance] = field(default_factory=list)
    echo_db: float | None = None  # feed our own reply back at this gain (dB), as a modem would
    noise_level: float = 0.0
    played: list[tuple[float, bytes]] = field(default_factory=list)  # (time, frame) of reply audio
    t: float = 0.0

    def caller_frame(self, t: float, echo: bytes | None, rng: np.random.Generator) -> AudioFrame:
        out = np.zeros(FRAME // 2, dtype=np.float64)
        for u in self.script:
            start = round((t - u.at_s) * RATE)
            if 0 <= start * 2 < len(u.pcm):
                chunk = np.frombuffer(u.pcm[start * 2 : start * 2 + FRAME], "<i2").astype(np.float64)
                out[: len(chunk)] += chunk
        if echo is not None and self.echo_db is not None:
            out += np.frombuffer(echo, "<i2").astype(np.float64) * 10 ** (self.echo_db / 20)
        if self.noise_level:
            out += rng.normal(0, self.noise_level * 32768, len(out))
        return AudioFrame(np.clip(out, -32768, 32767).astype("<i2").tobytes(), RATE)

    async def run(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        rng = np.random.default_rng(0)
        next_tick = loop.time()
        last_reply: bytes | None = None
        while self.t < seconds and not self.session.ended.is_set():
            await self.session.push(self.caller_frame(self.t, last_reply, rng))
            frame = self.session.next_frame()
            last_reply = frame.pcm if frame else None
            if frame:
                self.played.append((round(self.t, 3), frame.pcm))
            self.t += FRAME_MS / 1000
            next_tick += FRAME_MS / 1000
            await asyncio.sleep(max(0.0, next_tick - loop.time()))

    def played_between(self, start: float, end: float) -> bytes:
        return b"".join(pcm for t, pcm in self.played if start <= t < end)

    def audio_times(self) -> list[float]:
        return [t for t, _ in self.played]


class ScriptedResponder:
    """A test double for the LLM in orchestration tests: fixed replies, streamed word by word."""

    def __init__(self, replies: list[str], token_delay_s: float = 0.03, fail: bool = False) -> None:
        self.replies, self.delay, self.fail = list(replies), token_delay_s, fail
        self.calls: list[list[dict]] = []
        self.cancelled = 0

    async def reply(self, messages: list[dict]) -> AsyncIterator[str]:
        self.calls.append([dict(m) for m in messages])
        if self.fail:
            raise ConnectionError("the LLM replica is gone")
        text = self.replies.pop(0) if self.replies else "I see."
        try:
            for word in text.split(" "):
                await asyncio.sleep(self.delay)
                yield word + " "
        except (asyncio.CancelledError, GeneratorExit):
            self.cancelled += 1
            raise
