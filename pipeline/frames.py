"""PCM audio frames: the unit that flows through a call, 20 ms of mono S16LE at 8 or 16 kHz."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

FRAME_MS = 20
SUPPORTED_RATES = (8000, 16000)


@dataclass(frozen=True)
class AudioFrame:
    pcm: bytes
    sample_rate: int

    def __post_init__(self) -> None:
        if self.sample_rate not in SUPPORTED_RATES:
            raise ValueError(f"sample rate {self.sample_rate} not supported; use 8000 or 16000")
        if len(self.pcm) != frame_bytes(self.sample_rate):
            raise ValueError(
                f"a {FRAME_MS} ms frame at {self.sample_rate} Hz is {frame_bytes(self.sample_rate)} "
                f"bytes, got {len(self.pcm)}"
            )

    @property
    def duration_s(self) -> float:
        return FRAME_MS / 1000


def frame_bytes(sample_rate: int) -> int:
    return sample_rate * 2 * FRAME_MS // 1000


class Framer:
    """Cuts a stream of PCM chunks of any size into exact 20 ms frames."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.size = frame_bytes(sample_rate)
        self._buf = bytearray()

    def push(self, pcm: bytes) -> Iterator[AudioFrame]:
        self._buf += pcm
        while len(self._buf) >= self.size:
            yield AudioFrame(bytes(self._buf[: self.size]), self.sample_rate)
            del self._buf[: self.size]

    def flush(self) -> Iterator[AudioFrame]:
        """The remainder, padded with silence to a whole frame (the end of a reply)."""
        if self._buf:
            pad = self.size - len(self._buf)
            yield AudioFrame(bytes(self._buf) + b"\x00" * pad, self.sample_rate)
            self._buf.clear()

    def clear(self) -> None:
        self._buf.clear()


def trim_lead_in(pcm: bytes, sample_rate: int, threshold: int = 200, keep_ms: int = 20) -> bytes:
    """Drop the near-silence a synthesised utterance starts with, keeping ``keep_ms`` before its onset.

    VITS voices (Piper) open every utterance with 35–85 ms below -44 dBFS. At the start of a reply
    that is latency the caller hears as such; between chunks it is part of a natural pause, so the
    session trims only a reply's (or a line's) first audio. Audio that never rises above the
    threshold is returned as it is: nothing is dropped that could be speech.
    """
    samples = np.frombuffer(pcm, "<i2")
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > threshold)
    if loud.size == 0:
        return pcm
    start = max(0, int(loud[0]) - sample_rate * keep_ms // 1000)
    return pcm[2 * start :]
