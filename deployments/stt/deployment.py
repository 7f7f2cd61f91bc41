"""The STT Serve deployment: hosts one :class:`SpeechToTextEngine` chosen by the profile."""

from __future__ import annotations

import asyncio
import time

import numpy as np
from ray import serve

from deployments.errors import InvalidRequestError
from deployments.registry import STT_ENGINES, build_engine
from deployments.stt.engine import STT_SAMPLE_RATE
from infra import metrics
from infra.logging import configure_from_settings, get_logger

log = get_logger(__name__)
STT_LATENCY = metrics.histogram("stt_latency_seconds", "Time to transcribe one utterance", ("model",))
STT_AUDIO = metrics.counter("stt_audio_seconds_total", "Audio seconds transcribed", ("model",))


@serve.deployment(name="STTServer", max_ongoing_requests=8)
class STTServer:
    """Transcribes 16 kHz float32 audio; decoding of uploaded files happens at the ingress."""

    def __init__(self, spec: dict) -> None:
        configure_from_settings()
        t0 = time.monotonic()
        self.engine = build_engine(STT_ENGINES, spec)
        log.info("stt.ready", engine=spec.get("engine"), load_s=round(time.monotonic() - t0, 2))

    async def models(self) -> list[dict]:
        return [{"id": m.id, "languages": list(m.languages)} for m in self.engine.models()]

    async def ready(self) -> bool:
        return True

    async def transcribe(
        self,
        audio: np.ndarray,
        language: str | None = None,
        model: str | None = None,
        prompt: str | None = None,
        temperature: float = 0.0,
    ) -> dict:
        if not isinstance(audio, np.ndarray) or audio.ndim != 1:
            raise InvalidRequestError("audio must be a 1-D array of 16 kHz samples", param="file")
        t0 = time.monotonic()
        result = await asyncio.to_thread(
            self.engine.transcribe,
            audio,
            language=language,
            model=model,
            prompt=prompt,
            temperature=temperature,
        )
        elapsed = time.monotonic() - t0
        STT_LATENCY.observe(elapsed, model=result.model)
        STT_AUDIO.inc(len(audio) / STT_SAMPLE_RATE, model=result.model)
        log.info(
            "stt.transcribed",
            model=result.model,
            audio_s=round(result.duration, 2),
            elapsed_s=round(elapsed, 3),
            language=result.language,
            pii_transcript=result.text,
        )
        return result.to_dict()
