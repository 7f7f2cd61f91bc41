"""The faster-whisper engine in-process, on the real CPU-profile models."""

from __future__ import annotations

import numpy as np
import pytest

from deployments.errors import InvalidRequestError, NotFoundError
from deployments.registry import STT_ENGINES, build_engine
from tests.speech import espeak_wav, samples_16k, wer

SPEC = {
    "engine": "faster-whisper",
    "config": {
        "models": [
            {"id": "whisper-tiny.en", "path": "whisper-tiny.en", "languages": ["en"]},
            {"id": "whisper-base", "path": "whisper-base", "languages": ["*"]},
        ]
    },
}


@pytest.fixture(scope="module")
def engine():
    return build_engine(STT_ENGINES, SPEC)


def test_english_speech_is_transcribed(engine):
    text = "Please call me back tomorrow morning at nine."
    result = engine.transcribe(samples_16k(espeak_wav(text)), language="en")
    assert result.model == "whisper-tiny.en"
    assert wer(text, result.text) <= 0.15, result.text
    assert result.segments and result.segments[0].start >= 0


def test_speech_at_telephone_rate_is_transcribed(engine):
    """8 kHz audio (the modem's rate) upsampled to 16 kHz still transcribes."""
    from infra.audio import decode_audio, resample

    text = "I would like to speak to the manager."
    narrow = decode_audio(espeak_wav(text), 8000).samples
    result = engine.transcribe(resample(narrow, 8000, 16000), language="en")
    assert wer(text, result.text) <= 0.2, result.text


@pytest.mark.parametrize("kind", ["silence", "hiss", "loud-noise", "hum"])
def test_no_speech_never_becomes_text(engine, kind):
    rng = np.random.default_rng(1)
    n = 16000 * 4
    audio = {
        "silence": np.zeros(n, np.float32),
        "hiss": rng.normal(0, 0.003, n).astype(np.float32),
        "loud-noise": rng.normal(0, 0.2, n).astype(np.float32),
        "hum": (0.2 * np.sin(2 * np.pi * 50 * np.arange(n) / 16000)).astype(np.float32),
    }[kind]
    for language in ("en", None):
        result = engine.transcribe(audio, language=language)
        assert result.text == "" and result.segments == [], (kind, language, result.text)


def test_model_selection(engine):
    assert engine.select_model(None, "en").id == "whisper-tiny.en"
    assert engine.select_model("whisper-1", "ru").id == "whisper-base"
    assert engine.select_model(None, None).id == "whisper-base"
    assert engine.select_model("whisper-base", "en").id == "whisper-base"
    with pytest.raises(NotFoundError):
        engine.select_model("whisper-huge", None)
    with pytest.raises(InvalidRequestError):
        engine.select_model("whisper-tiny.en", "ru")


def test_language_models_route_unnamed_requests(engine):
    """The profile can send a language to a model other than the most specific one."""
    from dataclasses import replace

    from deployments.stt.faster_whisper import FasterWhisperEngine

    routed = FasterWhisperEngine.__new__(FasterWhisperEngine)
    routed.config = replace(engine.config, language_models={"en": "whisper-base"})
    assert routed.select_model(None, "en").id == "whisper-base"
    assert routed.select_model("whisper-1", "en").id == "whisper-base"  # an alias names no model
    assert routed.select_model("whisper-tiny.en", "en").id == "whisper-tiny.en"  # a named model still wins
    assert routed.select_model(None, "ru").id == "whisper-base"


@pytest.mark.parametrize(
    ("routes", "message"),
    [
        ({"en": "whisper-large"}, "does not serve"),
        ({"ru": "whisper-tiny.en"}, "does not transcribe 'ru'"),
    ],
)
def test_language_models_are_checked_before_loading(tmp_path, routes, message):
    from deployments.stt.faster_whisper import FasterWhisperConfig, FasterWhisperEngine

    cfg = FasterWhisperConfig.from_dict({**SPEC["config"], "language_models": routes})
    with pytest.raises(ValueError, match=message):
        FasterWhisperEngine(cfg, resolve_path=lambda p: tmp_path / "never-read")


def test_missing_model_directory_fails_with_a_clear_message(tmp_path):
    from deployments.stt.faster_whisper import FasterWhisperConfig, FasterWhisperEngine

    cfg = FasterWhisperConfig.from_dict({"models": [{"id": "x", "path": str(tmp_path / "nope")}]})
    with pytest.raises(FileNotFoundError, match="secretary models prepare"):
        FasterWhisperEngine(cfg)


def test_unknown_engine_name_is_refused():
    with pytest.raises(ValueError, match="unknown engine"):
        build_engine(STT_ENGINES, {"engine": "whisper.cpp"})
