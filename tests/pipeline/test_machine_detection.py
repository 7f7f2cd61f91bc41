"""Answering machines and recordings, told from the first words and from speech that never yields."""

from __future__ import annotations

from pipeline.machine_detection import OneWaySpeech, sounds_like_voicemail


def test_an_answering_machine_greeting_is_recognised_in_both_languages():
    assert sounds_like_voicemail("Hi, you've reached John. Please leave a message after the tone.", "silence")
    assert sounds_like_voicemail("Hello, you can reach long. I cannot take your call.", "silence")  # Whisper on espeak
    assert sounds_like_voicemail("Абонент не может ответить, оставьте сообщение после сигнала", "silence")
    assert sounds_like_voicemail("anything at all", "max_length")  # a monologue that never paused
    assert not sounds_like_voicemail("Hello? Who is this?", "silence")
    assert not sounds_like_voicemail("Алло, слушаю вас.", "silence")


def test_one_way_speech_counts_only_turns_that_never_yielded():
    talk = OneWaySpeech(40.0)
    assert not talk.turn("max_length", 20.0)
    assert talk.turn("max_length", 20.0)  # forty seconds without a pause for an answer
    talk = OneWaySpeech(40.0)
    talk.turn("max_length", 20.0)
    assert not talk.turn("silence", 3.0)  # a pause that gave us the floor: a person
    assert not talk.turn("max_length", 20.0)
    assert not OneWaySpeech(None).turn("max_length", 1e6)
