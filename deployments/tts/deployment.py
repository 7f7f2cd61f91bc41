"""The TTS Serve deployment: streams sentence-sized chunks of S16LE audio at the asked rate."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import numpy as np
from ray import serve

from deployments.errors import InvalidRequestError
from deployments.registry import TTS_ENGINES, build_engine
from infra import metrics
from infra.audio import StreamResampler
from infra.logging import configure_from_settings, get_logger

log = get_logger(__name__)
TTS_FIRST_AUDIO = metrics.histogram("tts_first_audio_seconds", "Text in to first audio chunk out", ("voice",))
TTS_AUDIO = metrics.counter("tts_audio_seconds_total", "Audio seconds synthesised", ("voice",))
MIN_SPEED, MAX_SPEED = 0.25, 4.0
MIN_RATE, MAX_RATE = 8000, 48000


@serve.deployment(name="TTSServer", max_ongoing_requests=8)
class TTSServer:
    def __init__(self, spec: dict) -> None:
        configure_from_settings()
        t0 = time.monotonic()
        self.engine = build_engine(TTS_ENGINES, spec)
        log.info("tts.ready", engine=spec.get("engine"), load_s=round(time.monotonic() - t0, 2))

    async def voices(self) -> list[dict]:
        return [v.__dict__ for v in self.engine.voices()]

    async def ready(self) -> bool:
        return True

    def _validate(self, text: str, voice: str, speed: float, sample_rate: int | None) -> int:
        if not text or not text.strip():
            raise InvalidRequestError("input must contain text to speak", param="input")
        if not MIN_SPEED <= speed <= MAX_SPEED:
            raise InvalidRequestError(f"speed must be between {MIN_SPEED} and {MAX_SPEED}", param="speed")
        try:
            native = self.engine.voice(voice).sample_rate
        except KeyError:
            names = ", ".join(v.id for v in self.engine.voices())
            raise InvalidRequestError(f"unknown voice {voice!r}; available: {names}", param="voice",
                                      code="voice_not_found") from None
        rate = sample_rate or native
        if not MIN_RATE <= rate <= MAX_RATE:
            raise InvalidRequestError(f"sample_rate must be between {MIN_RATE} and {MAX_RATE}", param="sample_rate")
        return rate

    async def stream(self, text: str, voice: str, speed: float = 1.0,
                     sample_rate: int | None = None) -> AsyncIterator[bytes]:
        """Yield S16LE mono audio, one sentence at a time, resampled to ``sample_rate``."""
        rate = self._validate(text, voice, speed, sample_rate)
        native = self.engine.voice(voice).sample_rate
        resampler = StreamResampler(native, rate)
        it = self.engine.synthesize(text, voice, speed)
        t0 = time.monotonic()
        first, produced = True, 0
        try:
            while True:
                chunk = await asyncio.to_thread(next, it, None)
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
            it.close()
            TTS_AUDIO.inc(produced / rate, voice=voice)

    async def synthesize(self, text: str, voice: str, speed: float = 1.0,
                         sample_rate: int | None = None) -> tuple[bytes, int]:
        rate = self._validate(text, voice, speed, sample_rate)
        parts = [c async for c in self.stream(text, voice, speed, rate)]
        return b"".join(parts), rate
