"""The TTS Serve deployment: hosts a :class:`SpeechService` over the profile's engine."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from ray import serve

from deployments.registry import TTS_ENGINES, build_engine
from deployments.tts.service import SpeechService
from infra.logging import configure_from_settings, get_logger

log = get_logger(__name__)


@serve.deployment(name="TTSServer", max_ongoing_requests=8)
class TTSServer:
    def __init__(self, spec: dict) -> None:
        configure_from_settings()
        t0 = time.monotonic()
        self.service = SpeechService(build_engine(TTS_ENGINES, spec))
        log.info("tts.ready", engine=spec.get("engine"), load_s=round(time.monotonic() - t0, 2))

    async def voices(self) -> list[dict]:
        return [v.__dict__ for v in self.service.engine.voices()]

    async def ready(self) -> bool:
        return True

    async def stream(
        self, text: str, voice: str, speed: float = 1.0, sample_rate: int | None = None, slack_s: float = 0.0
    ) -> AsyncIterator[bytes]:
        async for chunk in self.service.stream(text, voice, speed, sample_rate, slack_s):
            yield chunk

    async def synthesize(
        self, text: str, voice: str, speed: float = 1.0, sample_rate: int | None = None
    ) -> tuple[bytes, int]:
        return await self.service.synthesize(text, voice, speed, sample_rate)
