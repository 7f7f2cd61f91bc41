"""The Piper engine in-process, and the TTS deployment's streaming and validation."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from deployments.errors import InvalidRequestError
from deployments.registry import TTS_ENGINES, build_engine
from deployments.tts.engine import TextToSpeechEngine, VoiceInfo

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


class ToneEngine(TextToSpeechEngine):
    """Deterministic: one 0.5 s chunk per sentence at 22.05 kHz (Piper's lengths vary run to run)."""

    def voices(self):
        return [VoiceInfo("tone", "en", 22050, "test")]

    def synthesize(self, text, voice, speed=1.0):
        for _sentence in text.split("."):
            if _sentence.strip():
                yield (np.sin(np.arange(11025) / 22050 * 2 * np.pi * 440) * 8000).astype(np.int16)


def test_service_streams_resampled_audio():
    from deployments.tts.service import SpeechService

    service = SpeechService(ToneEngine())

    async def collect(text="One. Two. Three.", voice="tone", speed=1.0, rate=None):
        return [c async for c in service.stream(text, voice, speed, rate)]

    native = asyncio.run(collect())
    tel = asyncio.run(collect(rate=8000))
    assert len(native) == 3 and sum(map(len, native)) == 3 * 11025 * 2
    assert abs(sum(map(len, tel)) / 2 - 3 * 4000) <= 2  # 1.5 s at 8 kHz, no samples lost at chunk borders
    pcm, rate = asyncio.run(service.synthesize("Hello.", "tone", 1.0, 16000))
    assert rate == 16000 and abs(len(pcm) / 2 - 8000) <= 2

    for bad in [("", "tone", 1.0, None), ("hi", "nobody", 1.0, None), ("hi", "tone", 9.0, None), ("hi", "tone", 1.0, 100)]:
        with pytest.raises(InvalidRequestError):
            asyncio.run(collect(*bad))


def test_service_over_piper_at_telephone_rate(engine):
    from deployments.tts.service import SpeechService

    async def collect():
        return [c async for c in SpeechService(engine).stream("Hello there. Goodbye.", "joe", 1.0, 8000)]

    chunks = asyncio.run(collect())
    assert len(chunks) >= 2 and all(len(c) % 2 == 0 for c in chunks)
    assert 0.5 < sum(map(len, chunks)) / 2 / 8000 < 4.0


def test_control_unassigned_and_surrogate_characters_are_not_spoken():
    from deployments.tts.service import speakable

    assert speakable("Hello\x00 there\x07!\nNext\tline") == "Hello  there !\nNext\tline"
    assert speakable("\U00031a8e\ud800x") == "  x"
    assert speakable("Привет, мир") == "Привет, мир"


def test_finished_onnxruntime_threads_sleep_instead_of_spinning(engine):
    """The cores are shared with STT and the LLM: a synthesis must not hold them after it ends."""
    options = engine._voices["joe"].session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_the_gpu_device_is_asked_of_onnxruntime_and_never_silently_dropped(monkeypatch):
    """The GPU profile's Piper: the CUDA provider first; without onnxruntime-gpu a clear error."""
    import onnxruntime as ort

    from deployments.tts.piper import providers_for

    assert providers_for("cpu") == ["CPUExecutionProvider"]
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    with pytest.raises(RuntimeError, match="onnxruntime-gpu"):
        providers_for("cuda")
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert providers_for("cuda") == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    with pytest.raises(ValueError, match="'cpu' or 'cuda'"):
        providers_for("tpu")
