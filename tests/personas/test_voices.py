"""A persona is spoken by a voice of its language: its own, or another one of its language, or a clear refusal."""

from __future__ import annotations

import pytest

from personas.voices import NoVoiceForLanguage, VoiceChoice, choose_voice

VOICES = [{"id": "joe", "language": "en"}, {"id": "nikolay", "language": "ru"}]


def test_the_personas_own_voice_when_it_speaks_the_language():
    assert choose_voice("marina", "ru", "nikolay", VOICES) == VoiceChoice("nikolay")
    assert choose_voice("anna", "en-GB", "joe", VOICES) == VoiceChoice("joe")


def test_a_voice_of_another_language_is_replaced_by_one_of_the_personas():
    # The seed marina had Piper's English joe: Russian through English phonemes.
    assert choose_voice("marina", "ru", "joe", VOICES) == VoiceChoice("nikolay", fallback=True)
    assert choose_voice("marina", "ru", "gone", VOICES) == VoiceChoice("nikolay", fallback=True)


def test_no_voice_of_the_language_is_a_clear_refusal():
    with pytest.raises(NoVoiceForLanguage, match=r"no voice speaks 'de'.*joe \(en\)"):
        choose_voice("greta", "de", "joe", VOICES)
