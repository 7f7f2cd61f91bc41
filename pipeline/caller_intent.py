"""What a caller's utterance means for the conversation: nothing, a backchannel, a turn, or goodbye.

The words alone do not decide it; where they were said does:

- Hesitations ("um", "uh", "мм", "ээ") carry nothing: never a turn, in any number ("Um, uh uh").
- Acknowledgements ("yes", "ok", "да", "угу") said over the assistant's reply are backchannels: they
  neither interrupt it nor get an answer. Said when the assistant has stopped (after a question,
  above all), they are the caller's answer and get one.
- Goodbye is a closing, not a word found somewhere: the utterance's last clause must consist of
  farewells and closing pleasantries only ("Thank you very much. Goodbye.", "Спасибо, пока!").
  "Подождите, пока я найду ручку" ("hold on while I find a pen") has "пока" inside a clause
  that goes on, and "Goodbye... wait, one more thing" ends in a question: neither ends the call.
  Words are matched whole, so "покажите" or "bye-law" never match either.

Whisper punctuates what it transcribes, which is where the clauses come from; without
punctuation the whole utterance is one clause and the same rule holds.
"""

from __future__ import annotations

import re
from enum import Enum


class Utterance(Enum):
    NOTHING = "nothing"  # silence, noise, hesitation: no turn at all
    BACKCHANNEL = "backchannel"  # an acknowledgement over the assistant's speech
    TURN = "turn"  # something to answer
    GOODBYE = "goodbye"  # the caller closes the call


HESITATIONS = frozenset(
    {
        "uh",
        "um",
        "umm",
        "uhm",
        "er",
        "erm",
        "ah",
        "hmm",
        "hm",
        "mm",
        "mmm",
        "ээ",
        "эээ",
        "эм",
        "эмм",
        "мм",
        "ммм",
        "хм",
        "ну",
        "так",
        "вот",
    }
)
ACKNOWLEDGEMENTS = frozenset(
    {
        "yes",
        "yeah",
        "yep",
        "ok",
        "okay",
        "right",
        "sure",
        "uh-huh",
        "mhm",
        "mm-hmm",
        "aha",
        "alright",
        "i",
        "see",
        "да",
        "ага",
        "угу",
        "ок",
        "окей",
        "хорошо",
        "ладно",
        "понятно",
        "ясно",
        "конечно",
        "так-так",
    }
)
# Whole farewells, as token sequences.
FAREWELLS = (
    ("goodbye",),
    ("good", "bye"),
    ("bye",),
    ("bye-bye",),
    ("bye", "bye"),
    ("farewell",),
    ("see", "you"),
    ("до", "свидания"),
    ("до", "свиданья"),
    ("всего", "доброго"),
    ("всего", "хорошего"),
    ("пока",),
    ("пока-пока",),
    ("пока", "пока"),
    ("до", "встречи"),
    ("счастливо",),
    ("прощайте",),
)
# What may stand beside a farewell in the closing clause without making it a sentence about something else.
PLEASANTRIES = frozenset(
    {
        "thank",
        "thanks",
        "you",
        "very",
        "much",
        "so",
        "a",
        "lot",
        "then",
        "now",
        "for",
        "ok",
        "okay",
        "alright",
        "well",
        "great",
        "have",
        "nice",
        "good",
        "day",
        "evening",
        "later",
        "soon",
        "again",
        "all",
        "that's",
        "it",
        "bye",
        "and",
        "oh",
        "right",
        "cheers",
        "take",
        "care",
        "talk",
        "to",
        "tomorrow",
        "спасибо",
        "большое",
        "огромное",
        "вам",
        "тебе",
        "ну",
        "всё",
        "все",
        "ладно",
        "хорошо",
        "тогда",
        "давайте",
        "до",
        "свидания",
        "и",
        "вас",
        "удачи",
        "дня",
        "вечера",
        "хорошего",
        "доброго",
        "всего",
        "пока",
        "да",
        "ага",
        "понятно",
        "отлично",
        "спасибочки",
        "завтра",
    }
)
_CLAUSES = re.compile(r"[.!?;…]+|,(?=\s)")
_WORD = re.compile(r"[\w'-]+", re.UNICODE)


def words(text: str) -> list[str]:
    """Lower-case words, ``ё`` as ``е``; "uh huh" and "mm hmm" as the one token they are."""
    text = text.lower().replace("ё", "е")
    text = re.sub(r"\buh huh\b", "uh-huh", text)
    text = re.sub(r"\bmm hmm\b", "mm-hmm", text)
    return [w.strip("-'") for w in _WORD.findall(text) if w.strip("-'")]


def _has_farewell(tokens: list[str]) -> bool:
    for phrase in FAREWELLS:
        n = len(phrase)
        if any(tuple(tokens[i : i + n]) == phrase for i in range(len(tokens) - n + 1)):
            return True
    return False


def is_goodbye(text: str) -> bool:
    """The utterance closes the call: its last non-empty clause is a farewell with pleasantries only."""
    clauses = [words(c) for c in _CLAUSES.split(text)]
    clauses = [c for c in clauses if c]
    if not clauses or text.rstrip().endswith("?"):
        return False
    last = clauses[-1]
    if not _has_farewell(last):
        return False
    return all(w in PLEASANTRIES or any(w in phrase for phrase in FAREWELLS) for w in last)


def classify(text: str, assistant_speaking: bool) -> Utterance:
    """What ``text`` is, given whether the assistant was speaking when the caller said it."""
    tokens = words(text)
    if not tokens or all(w in HESITATIONS for w in tokens):
        return Utterance.NOTHING
    if all(w in HESITATIONS or w in ACKNOWLEDGEMENTS for w in tokens):
        return Utterance.BACKCHANNEL if assistant_speaking else Utterance.TURN
    if is_goodbye(text):
        return Utterance.GOODBYE
    return Utterance.TURN
