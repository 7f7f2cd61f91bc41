"""The call's audio, both directions, on the call's clock: caller left, assistant right.

The session feeds it every caller frame it is pushed and every reply frame it hands out, so the
two tracks stay aligned to the 20 ms call clock whatever the transport (modem, WebSocket, test).
Where the finished recording goes is :class:`infra.recordings.RecordingStore`'s business.
"""

from __future__ import annotations

import numpy as np

from infra.audio import wav_bytes


class CallRecorder:
    def __init__(self, sample_rate: int, max_seconds: float = 4 * 3600) -> None:
        self.sample_rate = sample_rate
        self.max_bytes = int(max_seconds * sample_rate) * 2
        self.caller = bytearray()
        self.assistant = bytearray()
        self.truncated = False

    def add_caller(self, pcm: bytes) -> None:
        if len(self.caller) + len(pcm) > self.max_bytes:
            self.truncated = True
            return
        self.caller += pcm

    def add_assistant(self, pcm: bytes) -> None:
        """Reply audio handed out now, i.e. at the end of the caller audio pushed so far."""
        start = max(0, len(self.caller) - len(pcm))
        if len(self.assistant) < start:
            self.assistant += b"\x00" * (start - len(self.assistant))
        if len(self.assistant) + len(pcm) > self.max_bytes:
            self.truncated = True
            return
        self.assistant += pcm

    @property
    def duration_s(self) -> float:
        return max(len(self.caller), len(self.assistant)) / 2 / self.sample_rate

    def stereo(self) -> np.ndarray:
        n = max(len(self.caller), len(self.assistant)) // 2
        out = np.zeros((n, 2), dtype="<i2")
        left = np.frombuffer(bytes(self.caller), "<i2")
        right = np.frombuffer(bytes(self.assistant), "<i2")
        out[: len(left), 0] = left
        out[: len(right), 1] = right
        return out

    def wav(self) -> bytes:
        return wav_bytes(self.stereo(), self.sample_rate)
