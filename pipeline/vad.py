"""Voice activity per 20 ms frame: WebRTC VAD behind an energy gate.

WebRTC VAD alone fires on line noise and clicks; requiring a minimum level (and a few
consecutive voiced frames, see :mod:`pipeline.turns`) keeps hiss and hum from starting a turn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import webrtcvad

from pipeline.frames import AudioFrame


@dataclass
class VADConfig:
    aggressiveness: int = 2  # 0..3, WebRTC's own scale
    min_dbfs: float = -45.0  # quieter frames are never speech
    # Share of the frame's energy in the voice band (250-3500 Hz): mains hum and rumble are loud
    # but sit below it, and WebRTC VAD alone takes them for speech.
    min_voice_band_ratio: float = 0.35


class VoiceActivityDetector:
    def __init__(self, config: VADConfig | None = None) -> None:
        self.config = config or VADConfig()
        self._vad = webrtcvad.Vad(self.config.aggressiveness)

    @staticmethod
    def level_dbfs(frame: AudioFrame) -> float:
        samples = np.frombuffer(frame.pcm, dtype="<i2").astype(np.float64)
        rms = math.sqrt(float(np.mean(samples * samples))) if samples.size else 0.0
        return 20 * math.log10(max(rms, 1e-9) / 32768.0)

    @staticmethod
    def voice_band_ratio(frame: AudioFrame) -> float:
        samples = np.frombuffer(frame.pcm, dtype="<i2").astype(np.float64)
        power = np.abs(np.fft.rfft(samples * np.hanning(len(samples)))) ** 2
        freqs = np.fft.rfftfreq(len(samples), 1 / frame.sample_rate)
        total = float(power.sum())
        if total <= 0:
            return 0.0
        return float(power[(freqs >= 250) & (freqs <= 3500)].sum()) / total

    def is_speech(self, frame: AudioFrame) -> bool:
        if self.level_dbfs(frame) < self.config.min_dbfs:
            return False
        if not self._vad.is_speech(frame.pcm, frame.sample_rate):
            return False
        return self.voice_band_ratio(frame) >= self.config.min_voice_band_ratio
