"""faster-whisper (CTranslate2 Whisper) speech-to-text engine.

Several models can be served at once, each with the languages it can transcribe. A request that
names no model gets the model ``language_models`` names for its language, else the most specific
model for it, else a multilingual one (which detects the language when none is forced). On the CPU
profile ``whisper-base`` answers every language, English included: with its 10 s encoder window it
is both faster and more accurate than ``whisper-tiny.en`` on telephone speech (BENCHMARKS.md).

Three guards keep silence and noise from becoming text:
an energy gate before decoding, Silero VAD inside faster-whisper (``vad_filter``), and Whisper's
own no-speech rule per segment (high ``no_speech_prob`` with low ``avg_logprob``), plus a
compression-ratio check against the repetition loops Whisper falls into on noise.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from faster_whisper import WhisperModel

from deployments.errors import InvalidRequestError, NotFoundError
from deployments.stt.engine import (
    STT_SAMPLE_RATE,
    Segment,
    SpeechToTextEngine,
    STTModelInfo,
    Transcription,
)
from deployments.stt.whisper_window import fitted_window_s, padded_to


@dataclass
class WhisperModelConfig:
    id: str
    path: str
    languages: list[str] = field(default_factory=lambda: ["*"])
    # Encoder window for audio up to this long (None: Whisper's 30 s); see whisper_window.py.
    encoder_window_s: float | None = None
    # With a window: fit it to each request, the audio's length plus this margin, rounded up to
    # 0.5 s, at least encoder_window_min_s and at most encoder_window_s (None: the whole window).
    encoder_window_margin_s: float | None = None
    encoder_window_min_s: float = 5.0

    def __post_init__(self) -> None:
        if self.encoder_window_s is not None and not 0 < self.encoder_window_s <= 30:
            raise ValueError(f"{self.id}: encoder_window_s must be in (0, 30], got {self.encoder_window_s}")
        if self.encoder_window_margin_s is not None:
            if self.encoder_window_s is None:
                raise ValueError(f"{self.id}: encoder_window_margin_s fits encoder_window_s, which is not set")
            if self.encoder_window_margin_s <= 0:
                raise ValueError(f"{self.id}: encoder_window_margin_s must be positive, got {self.encoder_window_margin_s}")
            if not 0 < self.encoder_window_min_s <= self.encoder_window_s:
                raise ValueError(
                    f"{self.id}: encoder_window_min_s must be in (0, encoder_window_s], got {self.encoder_window_min_s}"
                )

    def serves(self, language: str) -> bool:
        return "*" in self.languages or language in self.languages

    def window_for(self, duration_s: float) -> float | None:
        """The encoder window for audio this long (None: Whisper's 30 s)."""
        return fitted_window_s(duration_s, self.encoder_window_s, self.encoder_window_margin_s, self.encoder_window_min_s)


@dataclass
class FasterWhisperConfig:
    models: list[WhisperModelConfig]
    device: str = "cpu"
    compute_type: str = "int8"
    cpu_threads: int = 2
    num_workers: int = 1
    beam_size: int = 1
    vad_filter: bool = True
    vad_min_silence_ms: int = 500
    min_rms_dbfs: float = -55.0
    no_speech_threshold: float = 0.6
    log_prob_threshold: float = -1.0
    compression_ratio_threshold: float = 2.4
    aliases: list[str] = field(default_factory=lambda: ["whisper-1"])
    # Language -> model id for requests that name no model; overrides "most specific first".
    language_models: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict) -> FasterWhisperConfig:
        d = dict(d)
        d["models"] = [WhisperModelConfig(**m) for m in d["models"]]
        return cls(**d)


class FasterWhisperEngine(SpeechToTextEngine):
    def __init__(self, config: FasterWhisperConfig, resolve_path=lambda p: Path(p)) -> None:
        if not config.models:
            raise ValueError("faster-whisper engine needs at least one model")
        by_id = {m.id: m for m in config.models}
        for language, model_id in config.language_models.items():
            m = by_id.get(model_id)
            if m is None:
                raise ValueError(f"language_models: {language!r} names {model_id!r}, which this engine does not serve")
            if not m.serves(language):
                raise ValueError(f"language_models: {model_id!r} does not transcribe {language!r}")
        self.config = config
        self._models: dict[str, WhisperModel] = {}
        self._locks: dict[str, threading.Lock] = {}
        for m in config.models:
            path = resolve_path(m.path)
            if not (Path(path) / "model.bin").is_file():
                raise FileNotFoundError(f"Whisper model {m.id!r} not found at {path}: run `secretary models prepare`")
            self._models[m.id] = WhisperModel(
                str(path),
                device=config.device,
                compute_type=config.compute_type,
                cpu_threads=config.cpu_threads,
                num_workers=config.num_workers,
            )
            self._locks[m.id] = threading.Lock()

    def models(self) -> list[STTModelInfo]:
        return [STTModelInfo(m.id, tuple(m.languages)) for m in self.config.models]

    def select_model(self, model: str | None, language: str | None) -> WhisperModelConfig:
        """A named model, else the language's configured model, else the most specific one (multilingual last)."""
        if model and model not in self.config.aliases:
            for m in self.config.models:
                if m.id == model:
                    if language and not m.serves(language):
                        raise InvalidRequestError(
                            f"model {model!r} does not support language {language!r}", param="language"
                        )
                    return m
            raise NotFoundError(f"the model {model!r} does not exist", param="model", code="model_not_found")
        if language:
            chosen = self.config.language_models.get(language)
            for m in self.config.models:  # a routed language's model exists: checked at start
                if (m.id == chosen) if chosen else (language in m.languages):
                    return m
        for m in self.config.models:
            if "*" in m.languages:
                return m
        if language is None:
            return self.config.models[0]
        raise InvalidRequestError(f"no model serves language {language!r}", param="language")

    def _is_silent(self, audio: np.ndarray) -> bool:
        if audio.size == 0:
            return True
        rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
        return 20 * np.log10(max(rms, 1e-10)) < self.config.min_rms_dbfs

    def _keep(self, seg) -> bool:
        c = self.config
        if seg.no_speech_prob > c.no_speech_threshold and seg.avg_logprob < c.log_prob_threshold:
            return False
        if seg.compression_ratio > c.compression_ratio_threshold:
            return False
        return bool(seg.text.strip())

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        language: str | None = None,
        model: str | None = None,
        prompt: str | None = None,
        temperature: float = 0.0,
    ) -> Transcription:
        chosen = self.select_model(model, language)
        duration = len(audio) / STT_SAMPLE_RATE
        if self._is_silent(audio):
            return Transcription("", language or "", duration, chosen.id, [], None)
        if language is None and "*" not in chosen.languages and len(chosen.languages) == 1:
            language = chosen.languages[0]
        c = self.config
        with self._locks[chosen.id], padded_to(chosen.window_for(duration)):
            segments, info = self._models[chosen.id].transcribe(
                audio.astype(np.float32, copy=False),
                language=language,
                beam_size=c.beam_size,
                temperature=temperature,
                initial_prompt=prompt or None,
                vad_filter=c.vad_filter,
                vad_parameters={"min_silence_duration_ms": c.vad_min_silence_ms},
                no_speech_threshold=c.no_speech_threshold,
                log_prob_threshold=c.log_prob_threshold,
                compression_ratio_threshold=c.compression_ratio_threshold,
                condition_on_previous_text=False,
            )
            kept = [s for s in segments if self._keep(s)]
        out = [
            Segment(
                i, round(s.start, 3), round(s.end, 3), s.text.strip(), s.avg_logprob, s.no_speech_prob, s.compression_ratio
            )
            for i, s in enumerate(kept)
        ]
        text = " ".join(s.text for s in out).strip()
        return Transcription(text, info.language, duration, chosen.id, out, info.language_probability)
