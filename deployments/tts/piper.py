"""Piper (ONNX VITS) text-to-speech engine: the CPU profile's voice engine.

Piper splits text into sentences itself and synthesises each one separately, which is exactly
the streaming granularity we want. Voices are loaded once at start; the engine is voice-agnostic
(no Russian Piper voice ships on PyPI, but an operator can add one in the profile's config).
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
    # "cuda": onnxruntime-gpu's CUDA provider, the GPU profile's voice engine whose licence allows a
    # paid service (XTTS-v2's weights do not: docs/voices.md). "cpu": the CPU profile.
    device: str = "cpu"

    @classmethod
    def from_dict(cls, d: dict) -> PiperConfig:
        d = dict(d)
        d["voices"] = [PiperVoiceConfig(**v) for v in d["voices"]]
        return cls(**d)


def providers_for(device: str) -> list[str]:
    """onnxruntime execution providers for ``device``; a GPU asked for and missing is an error, not
    a silent fall back to the CPU (a GPU profile on the CPU would miss every latency budget)."""
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device == "cuda":
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise RuntimeError(
                "Piper device 'cuda' needs onnxruntime's CUDAExecutionProvider, which this onnxruntime "
                f"lacks ({', '.join(ort.get_available_providers())}): install onnxruntime-gpu"
            )
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    raise ValueError(f"Piper device must be 'cpu' or 'cuda', not {device!r}")


def session_options() -> ort.SessionOptions:
    """onnxruntime options for cores shared with other models: worker threads that have finished
    sleep instead of spinning. A spinning pool holds the cores for a while after each run (one
    session run right after another's took 63 ms instead of 32 on the CPU profile), time the STT
    and the LLM sharing those cores lose after every synthesis."""
    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


class PiperEngine(TextToSpeechEngine):
    name = "piper"

    def __init__(self, config: PiperConfig, resolve_path=lambda p: Path(p)) -> None:
        self.config = config
        providers = providers_for(config.device)
        self._voices: dict[str, PiperVoice] = {}
        self._info: dict[str, VoiceInfo] = {}
        # onnxruntime sessions are thread-safe, but two concurrent runs on 2 cores only thrash;
        # one lock per voice keeps each synthesis fast and the order of chunks intact.
        self._locks: dict[str, threading.Lock] = {}
        for v in config.voices:
            path = Path(resolve_path(v.path))
            if not path.is_file():
                raise FileNotFoundError(f"Piper voice {v.id!r} not found at {path}: run `secretary models prepare`")
            voice = PiperVoice.load(path)
            # Piper's session, rebuilt with threads that sleep when done (session_options).
            voice.session = ort.InferenceSession(str(path), session_options(), providers=providers)
            self._voices[v.id] = voice
            self._info[v.id] = VoiceInfo(v.id, v.language, voice.config.sample_rate, self.name)
            self._locks[v.id] = threading.Lock()

    def voices(self) -> list[VoiceInfo]:
        return list(self._info.values())

    def synthesize(self, text: str, voice: str, speed: float = 1.0) -> Iterator[np.ndarray]:
        pv = self._voices[voice]
        cfg = SynthesisConfig(
            length_scale=(pv.config.length_scale or 1.0) / speed,
            noise_scale=self.config.noise_scale,
            noise_w_scale=self.config.noise_w_scale,
        )
        it = iter(pv.synthesize(text, syn_config=cfg))
        while True:
            with self._locks[voice]:
                chunk = next(it, None)
            if chunk is None:
                return
            yield chunk.audio_int16_array
