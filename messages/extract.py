"""The message a call leaves for the owner, taken from its transcript by the persona's model.

The model answers in a fixed JSON structure (guided decoding: vLLM holds it to ``MESSAGE_SCHEMA``,
so even a 135M model returns something parseable). What it says is then checked against the
caller's own words (``messages/rules.py``): a name counts only if the caller said it, a callback
time is resolved from the words to a real moment (``messages/when.py``), "spam" needs a cue. Where
a field fails the check, or the model cannot be reached, the rules' reading is used, so a message
always comes out, and ``extracted_by`` says whose reading it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from infra.logging import get_logger
from messages import rules
from messages.when import resolve_callback

log = get_logger(__name__)
INTENTS = ("callback", "meeting", "information", "other")
URGENCIES = ("low", "normal", "high")
CATEGORIES = ("legit", "sales", "spam")
MESSAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "caller_name": {"type": "string", "maxLength": 60},
        "reason": {"type": "string", "maxLength": 200},
        "wants": {"enum": list(INTENTS)},
        "callback_time": {"type": "string", "maxLength": 40},
        "urgency": {"enum": list(URGENCIES)},
        "summary": {"type": "string", "maxLength": 300},
        "category": {"enum": list(CATEGORIES)},
    },
    "required": ["caller_name", "reason", "wants", "callback_time", "urgency", "summary", "category"],
    "additionalProperties": False,
}
INSTRUCTIONS = {
    "en": (
        "You are a secretary writing a message for your boss about the phone call below. "
        "Fill in the JSON: caller_name as the caller said it (empty if not given), reason in a few words, "
        "wants (callback, meeting, information or other), callback_time in the caller's words (empty if none), "
        "urgency, a two-sentence summary in English, and category: legit, sales (advertising) or spam (scam, robot)."
    ),
    "ru": (
        "Ты секретарь и пишешь сообщение руководителю о телефонном звонке ниже. "
        "Заполни JSON: caller_name так, как назвался звонивший (пусто, если не назвался), reason в нескольких словах, "
        "wants (callback, meeting, information или other), callback_time словами звонившего (пусто, если нет), "
        "urgency, summary из двух предложений на русском и category: legit, sales (реклама) или spam (мошенники, робот)."
    ),
}
MONTHS_RU = "января февраля марта апреля мая июня июля августа сентября октября ноября декабря".split()
# Complete: ``(messages, options) -> the reply's text``; the desk binds it to the persona's model server.
Complete = Callable[[list[dict[str, str]], dict[str, Any]], Awaitable[str]]


@dataclass
class Extracted:
    caller_name: str | None
    reason: str
    intent: str
    callback_at: datetime | None
    callback_text: str | None
    urgency: str
    summary: str
    category: str  # legit | sales | spam
    category_reason: str | None
    extracted_by: str  # llm | rules | llm+rules

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["callback_at"] = self.callback_at.isoformat() if self.callback_at else None
        return d


def prompt(transcript: list[dict], language: str) -> list[dict[str, str]]:
    lines = []
    for t in transcript:
        if t.get("text"):
            who = "Caller" if t.get("speaker") == "caller" else "Secretary"
            if language == "ru":
                who = "Звонящий" if t.get("speaker") == "caller" else "Секретарь"
            lines.append(f"{who}: {t['text']}")
    return [
        {"role": "system", "content": INSTRUCTIONS.get(language, INSTRUCTIONS["en"])},
        {"role": "user", "content": "\n".join(lines)[-4000:]},
    ]


def _clean(value: Any, limit: int) -> str:
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", str(value or "")).strip()
    return re.sub(r"\s+", " ", text)[:limit]


def parse_reply(text: str) -> dict[str, Any] | None:
    """The model's JSON, control characters forgiven (xgrammar lets them into strings); None if broken."""
    try:
        value = json.loads(text, strict=False)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def when_words(at: datetime, now: datetime, language: str) -> str:
    days = (at.date() - now.date()).days
    clock = at.strftime("%H:%M")
    if language == "ru":
        day = {0: "сегодня", 1: "завтра"}.get(days, f"{at.day} {MONTHS_RU[at.month - 1]}")
        return f"{day} в {clock}"
    day = {0: "today", 1: "tomorrow"}.get(days, at.strftime("%A %d %B").replace(" 0", " "))
    return f"{day} at {clock}"


SUMMARY = {
    "en": {
        "who": "A caller",
        "about": "{who} called about: {reason}.",
        "called": "{who} called.",
        "callback_at": " They ask to be called back {callback}.",
        "callback": " They ask to be called back.",
        "meeting": " They would like to arrange a meeting.",
    },
    "ru": {
        "who": "Звонивший",
        "about": "{who} звонил(а) по поводу: {reason}.",
        "called": "{who} звонил(а).",
        "callback_at": " Просит перезвонить {callback}.",
        "callback": " Просит перезвонить.",
        "meeting": " Хочет договориться о встрече.",
    },
}


def template_summary(name: str | None, reason: str, intent: str, callback: str | None, language: str) -> str:
    """The summary when the model's will not do: who, why, and when to call back."""
    words = SUMMARY["ru" if language == "ru" else "en"]
    who = name or words["who"]
    text = words["about" if reason else "called"].format(who=who, reason=reason.rstrip("."))
    if callback:
        return text + words["callback_at"].format(callback=callback)
    return text + words.get(intent, "") if intent in ("callback", "meeting") else text


async def extract(transcript: list[dict], language: str, now: datetime, complete: Complete | None) -> Extracted:
    """The message in ``transcript``; ``now`` is the call's end in the persona's time zone."""
    said = rules.caller_text(transcript)
    turns = [t["text"] for t in transcript if t.get("speaker") == "caller" and t.get("text")]
    model: dict[str, Any] | None = None
    if complete is not None and said:
        try:
            reply = await complete(
                prompt(transcript, language), {"json_schema": MESSAGE_SCHEMA, "max_tokens": 220, "temperature": 0.0}
            )
            model = parse_reply(reply)
            if model is None:
                log.warning("messages.extract_unparsed", chars=len(reply))
        except Exception as exc:  # the model away: the rules' reading still makes a message
            log.warning("messages.extract_failed", error=type(exc).__name__)
    used_model = used_rules = False

    def pick(model_value: Any, ok: bool, fallback: Any) -> Any:
        nonlocal used_model, used_rules
        if ok:
            used_model = True
            return model_value
        used_rules = True
        return fallback

    m = model or {}
    name_m = _clean(m.get("caller_name"), 60)
    caller_name = pick(name_m, bool(name_m) and rules.name_is_said(name_m, said), rules.find_name(said))
    at = resolve_callback(said, now)
    callback_text = None
    if at is None and m.get("callback_time"):
        at = resolve_callback(_clean(m.get("callback_time"), 40), now)
        used_model = used_model or at is not None
    if at is not None:
        callback_text = when_words(at, now, language)
    intent_r = rules.find_intent(said)
    intent_m = m.get("wants") if m.get("wants") in INTENTS else None
    # The model's reading where the words say nothing, or where it agrees with them.
    intent = pick(intent_m, intent_m is not None and intent_r in (None, intent_m), intent_r or "other")
    if at is not None and intent in ("other", "information"):
        intent = "callback"
    urgent = rules.is_urgent(said)
    urgency_m = m.get("urgency") if m.get("urgency") in URGENCIES else None
    urgency = "high" if urgent else pick(urgency_m, urgency_m in ("low", "normal"), "normal")
    reason_m = _clean(m.get("reason"), 200)
    reason = pick(
        reason_m,
        bool(reason_m) and rules.in_language(reason_m, language) and rules.shares_words(reason_m, said, 1),
        rules.main_reason(turns),
    )
    summary_m = _clean(m.get("summary"), 300)
    good_summary = (
        len(summary_m) >= 20
        and rules.in_language(summary_m, language)
        and rules.shares_words(summary_m, said, 2)
        and (caller_name is None or rules.name_is_said(caller_name, summary_m) or not rules.find_name(summary_m))
    )
    summary = pick(summary_m, good_summary, template_summary(caller_name, reason, intent, callback_text, language))
    cues = rules.category_cues(said)
    category_m = m.get("category") if m.get("category") in CATEGORIES else "legit"
    category, category_reason = "legit", None
    if category_m in ("spam", "sales") and cues[category_m]:
        category, category_reason = category_m, f"the model said {category_m}; the caller's words agree"
    elif cues["spam"] >= 2 or (cues["spam"] and not caller_name):
        category, category_reason = "spam", "scam phrases in the caller's words"
    elif cues["sales"] >= 2:
        category, category_reason = "sales", "sales phrases in the caller's words"
    by = "llm+rules" if used_model and used_rules else ("llm" if used_model else "rules")
    return Extracted(caller_name or None, reason, intent, at, callback_text, urgency, summary, category, category_reason, by)
