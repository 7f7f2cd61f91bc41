"""The model's structured message, checked against the caller's words; the rules when it fails."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import jsonschema

from messages.extract import MESSAGE_SCHEMA, extract

NOW = datetime(2026, 12, 7, 11, 20, tzinfo=ZoneInfo("Europe/Moscow"))
EN = [
    {"speaker": "assistant", "text": "Hello, this is Anna. May I have your name and the reason for your call?"},
    {"speaker": "caller", "text": "My name is John Smith, please ask Artem to call me back at five o'clock."},
    {"speaker": "assistant", "text": "Of course, I will pass it on."},
]
RU = [
    {"speaker": "assistant", "text": "Здравствуйте, это Марина. Представьтесь, пожалуйста."},
    {"speaker": "caller", "text": "Меня зовут Иван Петров, попросите Артёма перезвонить мне завтра в пять вечера."},
]


def model(reply: dict | str):
    """A stand-in for the persona's model that answers ``reply``, and records what it was asked."""
    asked = []

    async def complete(messages, options):
        asked.append((messages, options))
        return reply if isinstance(reply, str) else json.dumps(reply, ensure_ascii=False)

    complete.asked = asked
    return complete


GOOD = {
    "caller_name": "John Smith",
    "reason": "wants Artem to call him back",
    "wants": "callback",
    "callback_time": "five o'clock",
    "urgency": "normal",
    "summary": "John Smith called and asked Artem to call him back at five o'clock today.",
    "category": "legit",
}


async def test_a_good_structured_answer_is_used_and_the_schema_is_what_vllm_is_held_to():
    complete = model(GOOD)
    m = await extract(EN, "en", NOW, complete)
    assert (m.caller_name, m.intent, m.urgency, m.category) == ("John Smith", "callback", "normal", "legit")
    assert m.callback_at == datetime(2026, 12, 7, 17, 0, tzinfo=NOW.tzinfo) and m.callback_text == "today at 17:00"
    assert m.summary == GOOD["summary"] and m.extracted_by == "llm"
    messages, options = complete.asked[0]
    assert options["json_schema"] == MESSAGE_SCHEMA and options["temperature"] == 0.0
    assert "John Smith" in messages[1]["content"] and messages[0]["role"] == "system"
    jsonschema.validate(GOOD, MESSAGE_SCHEMA)


async def test_what_the_model_invents_is_replaced_by_what_the_caller_said():
    invented = {
        **GOOD,
        "caller_name": "Jane Doe",  # never said
        "urgency": "high",  # nothing urgent was said
        "summary": "Jane Doe needs an urgent call about her taxes.",
        "category": "spam",  # no scam phrase in the words
        "reason": "taxes",
    }
    m = await extract(EN, "en", NOW, model(invented))
    assert m.caller_name == "John Smith" and m.urgency == "normal" and m.category == "legit"
    assert "Jane" not in m.summary and "John Smith" in m.summary and m.extracted_by == "llm+rules"
    assert "call me back" in m.reason.lower()


async def test_broken_json_or_no_model_still_makes_a_message_from_the_words():
    for complete in (model("{not json"), None):
        m = await extract(EN, "en", NOW, complete)
        assert m.caller_name == "John Smith" and m.callback_text == "today at 17:00" and m.extracted_by == "rules"
        assert m.summary.startswith("John Smith called about")


async def test_a_model_that_fails_does_not_lose_the_message():
    async def down(messages, options):
        raise ConnectionError("the LLM replica is gone")

    m = await extract(RU, "ru", NOW, down)
    assert m.caller_name == "Иван Петров" and m.intent == "callback"
    assert m.callback_text == "завтра в 17:00" and "Просит перезвонить завтра в 17:00" in m.summary


async def test_a_russian_summary_must_be_russian():
    english = {**GOOD, "caller_name": "Иван Петров", "summary": "Ivan Petrov asked for a callback tomorrow at five."}
    m = await extract(RU, "ru", NOW, model(english))
    assert m.summary.startswith("Иван Петров звонил(а)")


async def test_spam_needs_a_cue_in_the_words_and_a_strong_cue_needs_no_model():
    pitch = [{"speaker": "caller", "text": "Congratulations, you have won a prize! Press one to claim your free cruise."}]
    m = await extract(pitch, "en", NOW, model({**GOOD, "caller_name": "", "category": "spam"}))
    assert m.category == "spam" and "agree" in m.category_reason
    m = await extract(pitch, "en", NOW, None)
    assert m.category == "spam"
    sales = [{"speaker": "caller", "text": "Hello, our company offers a special offer and a discount for your business."}]
    assert (await extract(sales, "en", NOW, model({**GOOD, "category": "sales"}))).category == "sales"
