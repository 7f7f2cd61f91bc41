"""The speech-to-text engine interface every STT implementation follows."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field

import numpy as np

STT_SAMPLE_RATE = 16000


@dataclass(frozen=True)
class Segment:
    id: int
    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float


@dataclass(frozen=True)
class Transcription:
    text: str
    language: str
    duration: float
    model: str
    segments: list[Segment] = field(default_factory=list)
    language_probability: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class STTModelInfo:
    id: str
    languages: tuple[str, ...]  # ("*",) = multilingual with detection


class SpeechToTextEngine(ABC):
    """Turns 16 kHz float32 mono audio into text.

    Implementations must never turn silence or noise into text: a no-speech input returns an
    empty ``text`` and no segments.
    """

    @abstractmethod
    def models(self) -> list[STTModelInfo]:
        """The models this engine serves."""

    @abstractmethod
    def transcribe(
        self,
        audio: np.ndarray,
        *,
        language: str | None = None,
        model: str | None = None,
        prompt: str | None = None,
        temperature: float = 0.0,
    ) -> Transcription:
        """Transcribe ``audio`` (16 kHz float32). ``language=None`` means detect it."""
