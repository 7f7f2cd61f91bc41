"""The Piper engine in-process, and the TTS deployment's streaming and validation."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from deployments.errors import InvalidRequestError
from deployments.registry import TTS_ENGINES, build_engine

SPEC = {"engine": "piper", "config": {"voices": [{"id": "joe", "path": "piper/en_US-joe-medium.onnx"}]}}


@pytest.fixture(scope="module")
def engine():
    return build_engine(TTS_ENGINES, SPEC)


def test_voice_info(engine):
    (voice,) = engine.voices()
    assert voice.id == "joe" and voice.sample_rate == 22050 and voice.engine == "piper"


def test_one_chunk_per_sentence(engine):
    chunks = list(engine.synthesize("Hello there. How are you? Fine, thanks.", "joe"))
    assert len(chunks) == 3
    assert all(c.dtype == np.int16 and c.size > 2000 for c in chunks)


def test_speed_scales_duration(engine):
    slow = sum(c.size for c in engine.synthesize("This is a test of the speed setting.", "joe", speed=0.5))
    fast = sum(c.size for c in engine.synthesize("This is a test of the speed setting.", "joe", speed=2.0))
    assert fast < slow / 2.5


def test_service_streams_resampled_audio(engine):
    from deployments.tts.service import SpeechService

    service = SpeechService(engine)

    async def collect(text="One. Two. Three.", voice="joe", speed=1.0, rate=None):
        return [c async for c in service.stream(text, voice, speed, rate)]

    native = asyncio.run(collect())
    tel = asyncio.run(collect(rate=8000))
    assert len(native) >= 3
    ratio = sum(map(len, tel)) / sum(map(len, native))
    assert abs(ratio - 8000 / 22050) < 0.01
    pcm, rate = asyncio.run(service.synthesize("Hello.", "joe", 1.0, 16000))
    assert rate == 16000 and len(pcm) > 16000

    for bad in [("", "joe", 1.0, None), ("hi", "nobody", 1.0, None), ("hi", "joe", 9.0, None),
                ("hi", "joe", 1.0, 100)]:
        with pytest.raises(InvalidRequestError):
            asyncio.run(collect(*bad))
