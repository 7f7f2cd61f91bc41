"""Validation, sentence streaming and resampling around a TTS engine, independent of Serve.

The Serve deployment is a thin host for this class, so the same logic runs in-process in tests
and benchmarks.
"""

from __future__ import annotations

import asyncio
import threading
import time
import unicodedata
from collections.abc import AsyncIterator

import numpy as np

from deployments.errors import InvalidRequestError
from deployments.tts.engine import TextToSpeechEngine
from deployments.tts.scheduling import DeadlineScheduler
from infra import metrics
from infra.audio import StreamResampler

TTS_FIRST_AUDIO = metrics.histogram("tts_first_audio_seconds", "Text in to first audio chunk out", ("voice",))
TTS_AUDIO = metrics.counter("tts_audio_seconds_total", "Audio seconds synthesised", ("voice",))
TTS_LATENESS = metrics.histogram(
    "tts_sentence_lateness_seconds",
    "How long after its deadline a sentence was made (0: in time); "
    "the deadline is the request's arrival plus its slack plus the audio before it",
    ("voice",),
)
MIN_SPEED, MAX_SPEED = 0.25, 4.0
MIN_RATE, MAX_RATE = 8000, 48000


def speakable(text: str) -> str:
    """The text with control, unassigned and surrogate characters turned into spaces: engines
    (espeak's phonemizer under Piper) fail on a NUL or a lone surrogate, and none of them is speech."""
    return "".join(" " if unicodedata.category(ch) in ("Cc", "Cn", "Cs", "Co") and ch not in "\n\t" else ch for ch in text)


class SpeechService:
    def __init__(self, engine: TextToSpeechEngine, scheduler: DeadlineScheduler | None = None) -> None:
        self.engine = engine
        # One sentence at a time, the one whose listener runs dry first (deployments/tts/scheduling.py).
        self.scheduler = scheduler or DeadlineScheduler(slots=1)

    def validate(self, text: str, voice: str, speed: float, sample_rate: int | None) -> int:
        """Check a request; returns the output sample rate (the voice's own when not given)."""
        if not text or not text.strip():
            raise InvalidRequestError("input must contain text to speak", param="input")
        if not MIN_SPEED <= speed <= MAX_SPEED:
            raise InvalidRequestError(f"speed must be between {MIN_SPEED} and {MAX_SPEED}", param="speed")
        try:
            native = self.engine.voice(voice).sample_rate
        except KeyError:
            names = ", ".join(v.id for v in self.engine.voices())
            raise InvalidRequestError(
                f"unknown voice {voice!r}; available: {names}", param="voice", code="voice_not_found"
            ) from None
        rate = sample_rate or native
        if not MIN_RATE <= rate <= MAX_RATE:
            raise InvalidRequestError(f"sample_rate must be between {MIN_RATE} and {MAX_RATE}", param="sample_rate")
        return rate

    async def stream(
        self, text: str, voice: str, speed: float = 1.0, sample_rate: int | None = None, slack_s: float = 0.0
    ) -> AsyncIterator[bytes]:
        """Yield S16LE mono audio, one sentence at a time, resampled to ``sample_rate``.

        ``slack_s``: seconds of audio the listener still has to play before it needs this text's
        (0: needed now). It orders this request's sentences against other requests' (scheduling.py)."""
        text = speakable(text)
        rate = self.validate(text, voice, speed, sample_rate)
        if not 0.0 <= slack_s <= 3600.0:
            raise InvalidRequestError("slack_s must be between 0 and 3600 seconds", param="slack_s")
        resampler = StreamResampler(self.engine.voice(voice).sample_rate, rate)
        it = self.engine.synthesize(text, voice, speed)
        # A cancelled await leaves next() running in its worker thread; closing the generator
        # then would raise "generator already executing". The lock makes close() wait for it.
        lock = threading.Lock()

        def step():
            with lock:
                return next(it, None)

        def close() -> None:
            with lock:
                closer = getattr(it, "close", None)
                if closer:
                    closer()

        t0 = time.monotonic()
        first, produced = True, 0
        try:
            while True:
                deadline = t0 + slack_s + produced / rate
                chunk = await self.scheduler.run(deadline, step)
                TTS_LATENESS.observe(max(0.0, time.monotonic() - deadline), voice=voice)
                last = chunk is None
                out = resampler.process(chunk if chunk is not None else np.zeros(0, np.int16), last=last)
                if out.size:
                    if first:
                        TTS_FIRST_AUDIO.observe(time.monotonic() - t0, voice=voice)
                        first = False
                    produced += out.size
                    yield out.astype("<i2").tobytes()
                if last:
                    break
        finally:
            asyncio.get_running_loop().run_in_executor(None, close)
            TTS_AUDIO.inc(produced / rate, voice=voice)

    async def synthesize(
        self, text: str, voice: str, speed: float = 1.0, sample_rate: int | None = None
    ) -> tuple[bytes, int]:
        rate = self.validate(text, voice, speed, sample_rate)
        parts = [c async for c in self.stream(text, voice, speed, rate)]
        return b"".join(parts), rate
