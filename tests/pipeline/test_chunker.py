"""The clause chunker over token streams, English and Russian."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pipeline.chunker import ChunkerConfig, ClauseChunker

TEXT = ("Hello! Our clinic is open from 9.30 to 18.00, Monday to Friday. Dr. Smith is in today, and tomorrow. "
        "Спасибо, т.е. всё хорошо. Ждём вас в 10:00... До свидания!")
EXPECTED = ["Hello!", "Our clinic is open from 9.30 to 18.00, Monday to Friday.", "Dr. Smith is in today, and tomorrow.",
            "Спасибо, т.е. всё хорошо.", "Ждём вас в 10:00...", "До свидания!"]


def chunks(text: str, step: int, config: ChunkerConfig | None = None) -> list[str]:
    c = ClauseChunker(config)
    out: list[str] = []
    for i in range(0, len(text), step):
        out += c.push(text[i:i + step])
    return out + list(c.flush())


@given(st.integers(min_value=1, max_value=12))
def test_same_chunks_whatever_the_token_size(step):
    assert chunks(TEXT, step) == EXPECTED


def test_first_chunk_is_eager_at_a_clause():
    out = chunks("Good afternoon, thank you for calling the dental clinic. How can I help?", 4)
    assert out[0] == "Good afternoon,"
    assert out[1:] == ["thank you for calling the dental clinic.", "How can I help?"]
    assert chunks("Sure, I can book you in for Friday at ten.", 3, ChunkerConfig.eager())[:2] == [
        "Sure, I can book you in", "for Friday at ten."]
    assert chunks("Да, конечно. Приходите в пятницу.", 2)[0] == "Да, конечно."  # "Да," alone is too short
    assert chunks("I'm Anna, a friendly phone secretary.", 2) == ["I'm Anna,", "a friendly phone secretary."]
    assert chunks("Конечно, записываю вас на пятницу.", 3)[0] == "Конечно,"
    assert chunks("Sure, we open at nine.", 2) == ["Sure, we open at nine."]  # "Sure," would be spoken alone


def test_first_chunk_without_a_boundary_goes_after_a_few_words():
    out = chunks("We are open every day from nine in the morning until six in the evening.", 3, ChunkerConfig.eager())
    assert out == ["We are open every day from", "nine in the morning until six in the evening."]
    clause = chunks("We are open every day from nine in the morning until six in the evening.", 3)
    assert clause == ["We are open every day from nine in the morning until six in the evening."]
    assert chunks("Sure, I can book you in.", 3)[0] == "Sure, I can book you in."


def test_nothing_is_lost_or_reordered():
    text = "one two three, four five six; seven. eight nine ten " * 10
    out = chunks(text, 5)
    assert " ".join(out).split() == text.split()
    assert all(len(c) <= 160 for c in out)


def test_no_boundary_still_bounded():
    out = chunks("word " * 100, 7)
    assert all(len(c) <= 160 for c in out) and len(out) >= 3
