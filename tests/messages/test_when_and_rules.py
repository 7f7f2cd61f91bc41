"""Callback times resolved in the persona's time zone, and what the caller's words say for certain."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from messages import rules
from messages.when import resolve_callback

MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 12, 7, 11, 20, tzinfo=MSK)  # a Monday morning


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("please ask Artem to call me back at five o'clock", datetime(2026, 12, 7, 17, 0, tzinfo=MSK)),
        ("call me back at 5 o'clock", datetime(2026, 12, 7, 17, 0, tzinfo=MSK)),
        ("at 5 pm please", datetime(2026, 12, 7, 17, 0, tzinfo=MSK)),
        ("tomorrow at 10:30", datetime(2026, 12, 8, 10, 30, tzinfo=MSK)),
        ("at ten thirty in the morning", datetime(2026, 12, 8, 10, 30, tzinfo=MSK)),  # past today: tomorrow
        ("half past four", datetime(2026, 12, 7, 16, 30, tzinfo=MSK)),
        ("on Friday at 9 am", datetime(2026, 12, 11, 9, 0, tzinfo=MSK)),
        ("перезвоните мне в пять часов", datetime(2026, 12, 7, 17, 0, tzinfo=MSK)),
        ("завтра в пять вечера", datetime(2026, 12, 8, 17, 0, tzinfo=MSK)),
        ("в 17:00", datetime(2026, 12, 7, 17, 0, tzinfo=MSK)),
        ("в 9 утра", datetime(2026, 12, 8, 9, 0, tzinfo=MSK)),
        ("к пяти", datetime(2026, 12, 7, 17, 0, tzinfo=MSK)),
        ("в пятницу в десять", datetime(2026, 12, 11, 10, 0, tzinfo=MSK)),
    ],
)
def test_callback_times_resolve_to_a_moment_in_business_hours(said, expected):
    assert resolve_callback(said, NOW) == expected


@pytest.mark.parametrize("said", ["I live at 3 Main Street", "I have 2 questions", "в 3 подъезде", "nothing at all"])
def test_numbers_that_are_not_times_resolve_to_nothing(said):
    assert resolve_callback(said, NOW) is None


@pytest.mark.parametrize(
    ("said", "name"),
    [
        ("Hi, my name is John Smith, please call me back.", "John Smith"),
        ("This is Maria. I'm calling about my appointment.", "Maria"),
        ("I'm calling about the invoice.", None),
        ("Здравствуйте, меня зовут Иван Петров, перезвоните мне.", "Иван Петров"),
        ("Это Ольга, по поводу записи.", "Ольга"),
        ("перезвоните мне, пожалуйста", None),
    ],
)
def test_a_name_is_only_what_the_caller_said_of_themselves(said, name):
    assert rules.find_name(said) == name


def test_intent_urgency_and_the_cues_of_sales_and_scams():
    assert rules.find_intent("please call me back") == "callback"
    assert rules.find_intent("Перезвоните мне завтра") == "callback"
    # How Whisper heard Festival's "перезвонить мне" on the phone line in CI.
    assert rules.find_intent("попросите, Артема перезавоницем не в пять часов.") == "callback"
    assert rules.find_intent("I'd like to book an appointment") == "meeting"
    assert rules.find_intent("Сколько стоит чистка?") == "information"
    assert rules.is_urgent("it's urgent, my tooth is broken") and rules.is_urgent("это срочно")
    assert not rules.is_urgent("whenever you can")
    assert rules.category_cues("Congratulations, you have won a prize, press one")["spam"] == 3
    assert rules.category_cues("У нас специальное предложение и скидки для вашего бизнеса")["sales"] == 2
    assert rules.category_cues("I need to reschedule my appointment") == {"spam": 0, "sales": 0}


def test_a_model_name_counts_only_if_the_caller_said_it():
    said = "my name is John Smith please call me back"
    assert rules.name_is_said("John Smith", said) and rules.name_is_said("john", said)
    assert not rules.name_is_said("Jane Smith", said) and not rules.name_is_said("", said)
