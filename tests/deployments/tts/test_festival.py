"""The Russian voice: Festival behind the TTS interface, read back by Whisper; its failures are clear."""

from __future__ import annotations

import numpy as np
import pytest

from deployments.registry import TTS_ENGINES, build_engine
from deployments.tts.festival import FestivalConfig, FestivalEngine, FestivalUnavailableError
from tests.speech import cer

RU = {"voices": [{"id": "nikolay", "voice": "msu_ru_nsh_clunits", "language": "ru"}]}


@pytest.fixture(scope="module")
def festival():
    engine = build_engine(TTS_ENGINES, {"engine": "festival", "config": RU})
    yield engine
    for proc in engine._procs.values():
        proc.close()


def heard(stt, chunks: list[np.ndarray], rate: int) -> str:
    from infra.audio import resample

    audio = np.concatenate(chunks).astype(np.float32) / 32768
    return stt.transcribe(resample(audio, rate, 16000).astype(np.float32), language="ru").text


def test_russian_is_spoken_and_whisper_reads_it_back(festival, multilingual_stt_engine):
    text = "Здравствуйте! Вы позвонили в стоматологическую клинику. Чем я могу вам помочь?"
    chunks = list(festival.synthesize(text, "nikolay"))
    assert len(chunks) == 3 and all(c.dtype == np.int16 for c in chunks)  # one per sentence, streamed
    assert cer(text, heard(multilingual_stt_engine, chunks, 16000)) < 0.25


def test_numbers_are_read_in_words_not_digit_by_digit(festival, multilingual_stt_engine):
    said = heard(multilingual_stt_engine, list(festival.synthesize("Мы работаем с 9 до 18.", "nikolay")), 16000)
    assert any(w in said.lower() for w in ("девяти", "9")) and any(w in said.lower() for w in ("восемнадцати", "18"))


def test_speed_stretches_the_audio(festival):
    normal = sum(len(c) for c in festival.synthesize("Добрый день.", "nikolay"))
    fast = sum(len(c) for c in festival.synthesize("Добрый день.", "nikolay", speed=2.0))
    assert fast < normal * 0.75


def test_quotes_and_backslashes_cannot_break_out_of_the_command(festival):
    chunks = list(festival.synthesize('Он сказал: "привет" \\ (display "x") и ушёл.', "nikolay"))
    assert sum(len(c) for c in chunks) > 16000 * 0.5


def test_a_festival_that_died_is_started_again(festival):
    festival._procs["nikolay"].close()
    assert sum(len(c) for c in festival.synthesize("Снова здесь.", "nikolay")) > 0


def test_a_missing_voice_fails_the_start_and_says_what_to_install():
    with pytest.raises(FestivalUnavailableError, match="festvox"):
        FestivalEngine(FestivalConfig.from_dict({"voices": [{"id": "x", "voice": "no_such_voice_clunits"}]}))


def test_a_missing_binary_fails_the_start_and_says_what_to_install():
    with pytest.raises(FestivalUnavailableError, match="apt-get install festival"):
        FestivalEngine(FestivalConfig.from_dict({**RU, "binary": "festival-not-installed"}))


@pytest.mark.parametrize(
    "text", ["Запишитесь на сайте clinic.ru", "Смайлик 😀 и тире — вот", "Цена 100$ и 5€", "Пишите на info@smile.ru"]
)
def test_latin_emoji_and_symbols_in_a_russian_reply_are_said_not_failed(festival, text):
    """Festival's Russian letter-to-sound rules rejected each of these, failing the whole sentence."""
    assert sum(len(c) for c in festival.synthesize(text, "nikolay")) > 16000 * 0.5
