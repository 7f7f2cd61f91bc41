"""Real in-process STT (Whisper tiny.en) and TTS (Piper) for session and ingress tests (fixtures)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from deployments.registry import STT_ENGINES, TTS_ENGINES, build_engine
from deployments.tts.service import SpeechService
from infra.audio import pcm16_to_float, resample


class EngineTranscriber:
    def __init__(self, engine) -> None:
        self.engine = engine
        self.calls = 0

    async def transcribe(self, pcm: bytes, sample_rate: int, language: str | None) -> str:
        self.calls += 1
        audio = resample(pcm16_to_float(pcm), sample_rate, 16000).astype(np.float32)
        result = await asyncio.to_thread(self.engine.transcribe, audio, language=language)
        return result.text


class ServiceSynthesizer:
    def __init__(self, service: SpeechService, voice: str = "joe") -> None:
        self.service, self.voice = service, voice

    async def speak(self, text: str, sample_rate: int, slack_s: float = 0.0):
        async for chunk in self.service.stream(text, self.voice, 1.0, sample_rate, slack_s):
            yield chunk


@pytest.fixture(scope="session")
def stt_engine():
    return build_engine(
        STT_ENGINES,
        {
            "engine": "faster-whisper",
            "config": {"models": [{"id": "whisper-tiny.en", "path": "whisper-tiny.en", "languages": ["en"]}]},
        },
    )


@pytest.fixture(scope="session")
def multilingual_stt_engine():
    """Whisper base, the CPU profile's model for every language: Russian callers are transcribed in Russian."""
    return build_engine(
        STT_ENGINES,
        {
            "engine": "faster-whisper",
            "config": {
                "models": [{"id": "whisper-base", "path": "whisper-base", "languages": ["*"], "encoder_window_s": 10}]
            },
        },
    )


@pytest.fixture(scope="session")
def tts_service():
    return SpeechService(
        build_engine(
            TTS_ENGINES, {"engine": "piper", "config": {"voices": [{"id": "joe", "path": "piper/en_US-joe-medium.onnx"}]}}
        )
    )


@pytest.fixture
def transcriber(stt_engine):
    return EngineTranscriber(stt_engine)


@pytest.fixture
def synthesizer(tts_service):
    return ServiceSynthesizer(tts_service)
