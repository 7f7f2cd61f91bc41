"""The clause chunker over token streams, English and Russian."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.chunker import DIGIT_CHARS, ChunkerConfig, ClauseChunker, for_speech, joined, spoken_chars

TEXT = (
    "Hello! Our clinic is open from 9.30 to 18.00, Monday to Friday. Dr. Smith is in today, and tomorrow. "
    "Спасибо, т.е. всё хорошо. Ждём вас в 10:00... До свидания!"
)
EXPECTED = [
    "Hello!",
    "Our clinic is open from 9.30 to 18.00,",
    "Monday to Friday.",
    "Dr. Smith is in today,",
    "and tomorrow.",
    "Спасибо, т.е. всё хорошо.",
    "Ждём вас в 10:00...",
    "До свидания!",
]
SENTENCES = [
    "Hello!",
    "Our clinic is open from 9.30 to 18.00, Monday to Friday.",
    "Dr. Smith is in today, and tomorrow.",
    "Спасибо, т.е. всё хорошо.",
    "Ждём вас в 10:00...",
    "До свидания!",
]


def chunks(text: str, step: int, config: ChunkerConfig | None = None) -> list[str]:
    c = ClauseChunker(config)
    out: list[str] = []
    for i in range(0, len(text), step):
        out += c.push(text[i : i + step])
    return out + list(c.flush())


@given(st.integers(min_value=1, max_value=12))
def test_same_chunks_whatever_the_token_size(step):
    assert chunks(TEXT, step) == EXPECTED
    assert chunks(TEXT, step, ChunkerConfig(growth=None)) == SENTENCES


def test_later_chunks_grow_from_the_one_before():
    """A chunk is made while the one before it plays: a sentence behind "I'm Anna," is cut at a clause."""
    reply = "I'm Anna, a friendly phone secretary, working in a busy office in the city's Westside. I can help."
    assert chunks(reply, 3) == [
        "I'm Anna,",
        "a friendly phone secretary,",
        "working in a busy office in the city's Westside.",
        "I can help.",
    ]
    assert chunks(reply, 3, ChunkerConfig(growth=None)) == [
        "I'm Anna,",
        "a friendly phone secretary, working in a busy office in the city's Westside.",
        "I can help.",
    ]
    # no clause boundary (at least 2 x 16 characters after a short chunk): before a phrase opener, else
    # at a space whose word does not lean on the next one ("of the")
    out = chunks("Hello! I am the assistant of the dental clinic on Baker street and I can book you in any day.", 4)
    assert out == ["Hello!", "I am the assistant", "of the dental clinic", "on Baker street and I can book you in any day."]
    assert chunks(
        "Sure, I can help you with booking an appointment for Friday at ten in the morning.", 3, ChunkerConfig.phrase()
    )[:3] == ["Sure, I can help you", "with booking an appointment", "for Friday at ten in the morning."]
    # a sentence that ends within a quarter past the limit stays whole (no "клиники." on its own)
    assert chunks("Здравствуйте! Я секретарь стоматологической клиники. Чем могу помочь?", 5) == [
        "Здравствуйте!",
        "Я секретарь стоматологической клиники.",
        "Чем могу помочь?",
    ]  # 38 > 32, within 40


@given(
    st.lists(st.sampled_from(["word", "два", "one,", "two.", "три;", "a", "longerword", "end!"]), max_size=120),
    st.integers(min_value=1, max_value=40),
)
def test_growth_bounds_every_later_chunk(words, step):
    text = " ".join(words)
    config = ChunkerConfig()
    out = chunks(text, step, config)
    assert " ".join(out).split() == text.split()
    assert out == chunks(text, 1, config)  # whatever the token size
    for before, chunk in itertools.pairwise(out):
        limit = int(min(config.max_chars, max(2 * config.min_chars, config.growth * len(before))))
        assert len(chunk) <= limit + limit // 4, (before, chunk)
    assert all(len(chunk) <= config.max_chars for chunk in out)


def test_growth_below_one_is_refused():
    with pytest.raises(ValueError, match="growth"):
        ChunkerConfig(growth=0.5)


def test_first_chunk_is_eager_at_a_clause():
    out = chunks("Good afternoon, thank you for calling the dental clinic. How can I help?", 4)
    assert out[0] == "Good afternoon,"
    assert out[1:] == ["thank you for calling the dental clinic.", "How can I help?"]
    assert chunks("Sure, I can book you in for Friday at ten.", 3, ChunkerConfig.eager())[:2] == [
        "Sure, I can book you in",
        "for Friday at ten.",
    ]
    assert chunks("Да, конечно. Приходите в пятницу.", 2)[0] == "Да, конечно."  # "Да," alone is too short
    assert chunks("I'm Anna, a friendly phone secretary.", 2) == ["I'm Anna,", "a friendly phone secretary."]
    assert chunks("Конечно, записываю вас на пятницу.", 3)[0] == "Конечно,"
    clause = ChunkerConfig.clause()
    assert chunks("Sure, we open at nine.", 2, clause) == ["Sure, we open at nine."]  # "Sure," would be alone
    assert chunks("Sure, we open at nine.", 2) == ["Sure, we open at nine."]  # the word after "at" ends it
    assert chunks("Sure, we open at nine tomorrow.", 2) == ["Sure, we open", "at nine tomorrow."]


def test_first_chunk_without_a_boundary_goes_after_a_few_words():
    out = chunks("We are open every day from nine in the morning until six in the evening.", 3, ChunkerConfig.eager())
    assert out == ["We are open every day from", "nine in the morning until six in the evening."]
    clause = chunks("We are open every day from nine in the morning until six in the evening.", 3, ChunkerConfig.clause())
    assert clause == ["We are open every day from nine in the morning until six in the evening."]
    assert chunks("Sure, I can book you in.", 3, ChunkerConfig.clause())[0] == "Sure, I can book you in."


def test_nothing_is_lost_or_reordered():
    text = "one two three, four five six; seven. eight nine ten " * 10
    out = chunks(text, 5)
    assert " ".join(out).split() == text.split()
    assert all(len(c) <= 160 for c in out)


def test_no_boundary_still_bounded():
    out = chunks("word " * 100, 7)
    assert all(len(c) <= 160 for c in out) and len(out) >= 3


def test_a_long_first_clause_is_cut_before_a_phrase_opener():
    """Replies that open without a short clause start before their whole first sentence is written."""
    phrase = ChunkerConfig.phrase()
    assert chunks("I'm here to assist with any project or task. Ask away.", 3, phrase) == [
        "I'm here",
        "to assist with any project or task.",
        "Ask away.",
    ]
    assert chunks("I'm sorry for any inconvenience, and thank you.", 3, phrase)[0] == "I'm sorry"
    assert chunks("I can help with that.", 3, phrase) == ["I can help with that."]  # "that." ends it
    assert chunks("I can help with that today.", 3, phrase) == ["I can help", "with that today."]
    assert chunks("Yes, I can do it.", 3, phrase) == ["Yes, I can do it."]  # "I can" is under 8 characters
    assert chunks("I'm not familiar with the local area, but I can help.", 2, phrase) == [
        "I'm not familiar",
        "with the local area,",
        "but I can help.",
    ]
    assert chunks("Мы работаем каждый день с девяти утра до шести вечера.", 4, phrase) == [
        "Мы работаем каждый день",
        "с девяти утра до шести вечера.",
    ]
    # a short clause still comes first, and an opener only counts as a whole word
    assert chunks("I'm Anna, a friendly phone secretary.", 2, phrase) == ["I'm Anna,", "a friendly phone secretary."]
    assert chunks("We are open tomorrow morning.", 1, phrase) == ["We are open tomorrow morning."]
    # the clause rule waits for the clause
    assert chunks("I'm here to assist with any project or task.", 3, ChunkerConfig.clause()) == [
        "I'm here to assist with any project or task."
    ]
    assert phrase == ChunkerConfig()  # the default


@given(
    st.lists(st.sampled_from(["word", "with", "и", "to,", "two.", "a", "because", "end!"]), max_size=60),
    st.integers(min_value=1, max_value=20),
)
def test_phrase_cuts_lose_nothing_whatever_the_token_size(words, step):
    text = " ".join(words)
    out = chunks(text, step, ChunkerConfig.phrase())
    assert " ".join(out).split() == text.split()
    assert out == chunks(text, 1, ChunkerConfig.phrase())


def test_a_chunk_cut_inside_a_sentence_is_spoken_as_a_phrase():
    assert for_speech("I'm not familiar") == "I'm not familiar,"
    assert for_speech("Мы работаем каждый день") == "Мы работаем каждый день,"
    for done in ("I'm Anna,", "Of course!", "until six.", "Правда?", "10:00...", ""):
        assert for_speech(done) == done


def test_cut_now_speaks_the_text_so_far_at_its_best_boundary():
    c = ClauseChunker()
    assert list(c.push("I'm Anna. ")) == ["I'm Anna."]
    assert list(c.push("On Saturdays we open at ten in the morn")) == []
    assert c.pending_text == "On Saturdays we open at ten in the morn"
    assert c.cut_now() == "On Saturdays we open at ten"  # before "in", the last opener; "morn" is still coming
    assert list(c.push("ing, and close at two. ")) == ["in the morning, and close at two."]
    c = ClauseChunker()
    assert [*c.push("Yes. ")] == ["Yes."]
    assert [*c.push("Absolutely, of the ")] == [] and c.cut_now() == "Absolutely,"  # a clause end
    assert c.cut_now() is None  # "of the" leans on what comes next
    c = ClauseChunker()
    assert [*c.push("Yes. ")] == ["Yes."]
    assert [*c.push("maybe")] == [] and c.cut_now() is None  # a word still being written


@given(
    st.lists(st.sampled_from(["word", "with", "и", "to,", "the", "a", "because", "long-word"]), max_size=40),
    st.integers(min_value=0, max_value=300),
)
def test_cut_now_loses_nothing(words, at):
    text = " ".join(words)
    c = ClauseChunker()
    out = [*c.push(text[:at])]
    forced = c.cut_now()
    out += ([forced] if forced else []) + [*c.push(text[at:])] + [*c.flush()]
    assert " ".join(out).split() == text.split()
    assert forced is None or len(forced) >= c.config.first_min_chars


def test_a_digit_counts_as_the_word_it_is_said_as():
    assert spoken_chars("Call us now.") == len("Call us now.")
    assert spoken_chars("at 1-800") == len("at 1-800") + 4 * (DIGIT_CHARS - 1)
    assert spoken_chars("в 9:30") == len("в 9:30") + 3 * (DIGIT_CHARS - 1)
    assert spoken_chars("") == 0


def test_cut_now_says_a_phone_number_group_by_group():
    """A number written digit by digit has no space to cut at: the groups written so far are said
    while the rest comes (the hyphen is not spoken: the chunk's comma is the pause)."""
    c = ClauseChunker()
    assert [*c.push("Sure. ")] == ["Sure."]
    assert [*c.push("Call us at 1-800-29")] == []
    assert c.cut_now() == "Call us at 1-800-"  # "29" may be "299": a group still being written stays
    assert for_speech("Call us at 1-800-") == "Call us at 1-800,"  # the hyphen is said as a pause
    assert [*c.push("9-9299. ")] == ["299-9299."]
    assert joined(["Sure.", "Call us at 1-800-", "299-9299."]) == "Sure. Call us at 1-800-299-9299."
    assert joined(["Well -", "maybe."]) == "Well - maybe."  # a dash is not a number's hyphen
    c = ClauseChunker()
    assert [*c.push("Sure. ")] == ["Sure."]
    assert [*c.push("Open at 9-18")] == [] and c.cut_now() is None  # a range ("from 9 to 18"), not groups


@given(st.lists(st.integers(min_value=0, max_value=9999), min_size=1, max_size=5), st.integers(min_value=0, max_value=40))
def test_cut_now_keeps_every_digit_group_whole(groups, at):
    text = "Please call us at " + "-".join(str(g) for g in groups) + ". "
    c = ClauseChunker()
    out = [*c.push(text[:at])]
    forced = c.cut_now()
    out += ([forced] if forced else []) + [*c.push(text[at:])] + [*c.flush()]
    assert joined(out) == text.strip()
    assert not forced or not forced[-1].isdigit()  # a group is never cut
