"""The shorter encoder window (the CPU profile's ``encoder_window_s``), fitted or not, on the real models."""

from __future__ import annotations

import threading

import faster_whisper.transcribe as fw
import numpy as np
import pytest

import deployments.stt.faster_whisper as faster_whisper_engine
from deployments.registry import STT_ENGINES, build_engine
from deployments.stt.faster_whisper import WhisperModelConfig
from deployments.stt.whisper_window import WHISPER_FRAMES, fitted_window_s, padded_to
from tests.speech import cer, espeak_wav, festival_ru_wav, samples_16k, wer

SPEC = {
    "engine": "faster-whisper",
    "config": {
        "models": [
            {"id": "whisper-tiny.en", "path": "whisper-tiny.en", "languages": ["en"], "encoder_window_s": 6},
            {"id": "whisper-base", "path": "whisper-base", "languages": ["*"], "encoder_window_s": 6},
        ]
    },
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
    audio = np.concatenate([samples_16k(espeak_wav(first)), np.zeros(16000 * 2, np.float32), samples_16k(espeak_wav(last))])
    assert len(audio) / 16000 > 6
    result = engine.transcribe(audio, language="en")
    assert wer(f"{first} {last}", result.text) <= 0.25, result.text
    assert "late" in result.text.lower()


# ---- a window fitted to each turn (the CPU profile's encoder_window_margin_s / _min_s) ----------

FITTED = {
    "engine": "faster-whisper",
    "config": {
        "models": [
            {
                "id": "whisper-base",
                "path": "whisper-base",
                "languages": ["*"],
                "encoder_window_s": 10,
                "encoder_window_margin_s": 2,
                "encoder_window_min_s": 5,
            }
        ]
    },
}


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        (0.4, 5.0),  # the floor
        (3.0, 5.0),
        (3.2, 5.5),  # 5.2 rounded up to half a second
        (7.9, 10.0),  # capped at the configured window
        (25.0, 10.0),  # longer than the window: Whisper's 30 s, as padded_to() decides
    ],
)
def test_the_window_is_the_turn_plus_the_margin_within_floor_and_window(duration, expected):
    assert fitted_window_s(duration, 10, 2, 5) == expected


def test_without_a_margin_or_a_window_nothing_is_fitted():
    assert fitted_window_s(2.0, 10, None, 5) == 10
    assert fitted_window_s(2.0, None, 2, 5) is None


@pytest.mark.parametrize(
    "bad",
    [
        {"encoder_window_margin_s": 2},  # a margin with no window to fit
        {"encoder_window_s": 10, "encoder_window_margin_s": 0},
        {"encoder_window_s": 10, "encoder_window_margin_s": 2, "encoder_window_min_s": 12},
        {"encoder_window_s": 10, "encoder_window_margin_s": 2, "encoder_window_min_s": 0},
        {"encoder_window_s": 45},
    ],
)
def test_a_window_that_cannot_work_is_refused_at_start(bad):
    with pytest.raises(ValueError, match="encoder_window"):
        WhisperModelConfig(id="whisper-base", path="whisper-base", **bad)


@pytest.fixture(scope="module")
def fitted():
    return build_engine(STT_ENGINES, FITTED)


@pytest.fixture
def windows(monkeypatch):
    """The windows the engine encodes in, request by request."""
    seen: list[float | None] = []

    def spy(window_s):
        seen.append(window_s)
        return padded_to(window_s)

    monkeypatch.setattr(faster_whisper_engine, "padded_to", spy)
    return seen


def test_a_short_turn_is_encoded_in_a_window_of_its_own_length_and_heard_right(fitted, windows):
    text = "What time do you open tomorrow?"
    audio = samples_16k(espeak_wav(text))
    result = fitted.transcribe(audio, language="en")
    assert windows == [fitted_window_s(len(audio) / 16000, 10, 2, 5)]
    assert windows[0] < 10
    assert wer(text, result.text) <= 0.2, result.text


def test_a_russian_turn_in_a_fitted_window_is_heard_right(fitted, windows):
    text = "Здравствуйте, я хотел бы записаться на приём в пятницу."
    result = fitted.transcribe(samples_16k(festival_ru_wav(text)), language="ru")
    assert windows[0] < 10
    assert cer(text, result.text) <= 0.15, result.text


def test_a_turn_longer_than_the_window_in_a_fitted_engine_is_transcribed_to_its_end(fitted, windows):
    first, last = "Good morning, this is Maria from the bakery.", "Please tell the manager the delivery is late."
    audio = np.concatenate([samples_16k(espeak_wav(first)), np.zeros(16000 * 5, np.float32), samples_16k(espeak_wav(last))])
    assert len(audio) / 16000 > 10
    result = fitted.transcribe(audio, language="en")
    assert windows == [10]  # the cap; padded_to() then gives audio past it Whisper's 30 s
    assert wer(f"{first} {last}", result.text) <= 0.25, result.text
