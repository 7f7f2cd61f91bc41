"""Piper (ONNX VITS) text-to-speech engine: the CPU profile's voice engine.

Piper splits text into sentences itself and synthesises each one separately, which is exactly
the streaming granularity we want. With ``windows`` set, each sentence is also decoded in two
windows of frames, so its first audio comes before the rest of it is made
(``deployments/tts/piper_windows.py``). Voices are loaded once at start; the engine is
voice-agnostic (no Russian Piper voice ships on PyPI, but an operator can add one in the
profile's config).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from piper import PiperVoice, SynthesisConfig

from deployments.tts.engine import TextToSpeechEngine, VoiceInfo
from deployments.tts.piper_windows import WindowConfig, WindowedVoice, session_options


@dataclass
class PiperVoiceConfig:
    id: str
    path: str
    language: str = "en"


@dataclass
class PiperConfig:
    voices: list[PiperVoiceConfig]
    noise_scale: float | None = None
    noise_w_scale: float | None = None
    windows: WindowConfig | None = None  # None: each sentence is synthesised whole

    @classmethod
    def from_dict(cls, d: dict) -> PiperConfig:
        d = dict(d)
        d["voices"] = [PiperVoiceConfig(**v) for v in d["voices"]]
        if d.get("windows") is not None:
            d["windows"] = WindowConfig(**d["windows"])
        return cls(**d)


class PiperEngine(TextToSpeechEngine):
    name = "piper"

    def __init__(self, config: PiperConfig, resolve_path=lambda p: Path(p)) -> None:
        self.config = config
        self._voices: dict[str, PiperVoice] = {}
        self._info: dict[str, VoiceInfo] = {}
        # onnxruntime sessions are thread-safe, but two concurrent runs on 2 cores only thrash;
        # one lock per voice keeps each synthesis fast and the order of chunks intact.
        self._locks: dict[str, threading.Lock] = {}
        self._windowed: dict[str, WindowedVoice] = {}
        for v in config.voices:
            path = Path(resolve_path(v.path))
            if not path.is_file():
                raise FileNotFoundError(f"Piper voice {v.id!r} not found at {path}: run `secretary models prepare`")
            voice = PiperVoice.load(path)
            # Piper's own session, rebuilt with threads that sleep when done (session_options).
            voice.session = ort.InferenceSession(str(path), session_options(), providers=["CPUExecutionProvider"])
            self._voices[v.id] = voice
            self._info[v.id] = VoiceInfo(v.id, v.language, voice.config.sample_rate, self.name)
            self._locks[v.id] = threading.Lock()
            if config.windows is not None:
                self._windowed[v.id] = WindowedVoice(voice, path, config.windows)

    def voices(self) -> list[VoiceInfo]:
        return list(self._info.values())

    def synthesize(self, text: str, voice: str, speed: float = 1.0) -> Iterator[np.ndarray]:
        pv = self._voices[voice]
        cfg = SynthesisConfig(
            length_scale=(pv.config.length_scale or 1.0) / speed,
            noise_scale=self.config.noise_scale,
            noise_w_scale=self.config.noise_w_scale,
        )
        windowed = self._windowed.get(voice)
        if windowed is not None:
            it = self._in_windows(windowed, text, cfg)
        else:
            it = (chunk.audio_int16_array for chunk in pv.synthesize(text, syn_config=cfg))
        while True:
            with self._locks[voice]:
                chunk = next(it, None)
            if chunk is None:
                return
            yield chunk

    @staticmethod
    def _in_windows(windowed: WindowedVoice, text: str, cfg: SynthesisConfig) -> Iterator[np.ndarray]:
        """The first sentence in frame windows, one step a window (calls sharing the voice take
        turns window by window); later sentences whole, made while earlier ones play, so they
        cost no margins."""
        for i, ids in enumerate(windowed.sentences(text)):
            prior = windowed.prior(ids, cfg)
            frames = prior[0].shape[2]
            for a, b in windowed.windows(frames) if i == 0 else [(0, frames)]:
                yield windowed.decode(prior, a, b)
