"""The shorter encoder window (the CPU profile's ``encoder_window_s``) on the real models."""

from __future__ import annotations

import threading

import faster_whisper.transcribe as fw
import numpy as np
import pytest

from deployments.registry import STT_ENGINES, build_engine
from deployments.stt.whisper_window import WHISPER_FRAMES, padded_to
from tests.speech import cer, espeak_wav, festival_ru_wav, samples_16k, wer

SPEC = {
    "engine": "faster-whisper",
    "config": {"models": [
        {"id": "whisper-tiny.en", "path": "whisper-tiny.en", "languages": ["en"], "encoder_window_s": 6},
        {"id": "whisper-base", "path": "whisper-base", "languages": ["*"], "encoder_window_s": 6}]},
}


@pytest.fixture(scope="module")
def engine():
    return build_engine(STT_ENGINES, SPEC)


def frames_padded(n: int) -> int:
    return fw.pad_or_trim(np.zeros((80, n), dtype=np.float32)).shape[-1]


def test_only_the_calling_thread_in_the_block_gets_the_window():
    assert frames_padded(400) == WHISPER_FRAMES
    seen: list[int] = []
    with padded_to(6):
        assert frames_padded(400) == 600
        assert frames_padded(800) == WHISPER_FRAMES  # longer than the window: Whisper's 30 s, never cut
        other = threading.Thread(target=lambda: seen.append(frames_padded(400)))
        other.start()
        other.join()
    assert seen == [WHISPER_FRAMES]
    assert frames_padded(400) == WHISPER_FRAMES
    with padded_to(None), padded_to(30):
        assert frames_padded(400) == WHISPER_FRAMES


def test_a_short_english_turn_is_heard_the_same(engine):
    text = "Hello, I would like to book an appointment for Friday morning please."
    result = engine.transcribe(samples_16k(espeak_wav(text)), language="en")
    assert result.model == "whisper-tiny.en"
    assert wer(text, result.text) <= 0.2, result.text


def test_a_russian_turn_is_heard_the_same(engine):
    text = "Здравствуйте, я хотел бы записаться на приём в пятницу."
    result = engine.transcribe(samples_16k(festival_ru_wav(text)), language="ru")
    assert result.model == "whisper-base"
    assert cer(text, result.text) <= 0.15, result.text


def test_audio_longer_than_the_window_is_transcribed_to_its_end(engine):
    first, last = "Good morning, this is Maria from the bakery.", "Please tell the manager the delivery is late."
    audio = np.concatenate([samples_16k(espeak_wav(first)), np.zeros(16000 * 2, np.float32),
                            samples_16k(espeak_wav(last))])
    assert len(audio) / 16000 > 6
    result = engine.transcribe(audio, language="en")
    assert wer(f"{first} {last}", result.text) <= 0.25, result.text
    assert "late" in result.text.lower()
