"""The text-to-speech engine interface every TTS implementation follows."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class VoiceInfo:
    id: str
    language: str
    sample_rate: int
    engine: str


class TextToSpeechEngine(ABC):
    """Synthesises text, streaming one chunk of int16 mono audio per sentence.

    Streaming per sentence is what lets a call start playing the first sentence while later ones
    are still being synthesised.
    """

    @abstractmethod
    def voices(self) -> list[VoiceInfo]:
        """Voices this engine serves."""

    def voice(self, voice_id: str) -> VoiceInfo:
        for v in self.voices():
            if v.id == voice_id:
                return v
        raise KeyError(voice_id)

    @abstractmethod
    def synthesize(self, text: str, voice: str, speed: float = 1.0) -> Iterator[np.ndarray]:
        """Yield int16 mono chunks at the voice's native ``sample_rate``."""
