"""The words of a notification: a subject line and a text, in the owner's language (en, ru)."""

from __future__ import annotations

from typing import Any

INTENT_WORDS = {
    "en": {
        "callback": "asks for a call back",
        "meeting": "wants a meeting",
        "information": "asked a question",
        "other": "called",
    },
    "ru": {
        "callback": "просит перезвонить",
        "meeting": "хочет встречу",
        "information": "задал(а) вопрос",
        "other": "звонил(а)",
    },
}


def subject(message: dict[str, Any], language: str) -> str:
    who = message.get("caller_name") or message.get("number") or message.get("number_masked")
    urgent = message.get("urgency") == "high"
    if language == "ru":
        return f"{'СРОЧНО: ' if urgent else ''}Сообщение от {who}"
    return f"{'URGENT: ' if urgent else ''}Message from {who}"


def text(message: dict[str, Any], language: str, call_link: str | None = None) -> str:
    """The message as the owner reads it, the number written out so it can be called back."""
    ru = language == "ru"
    words = INTENT_WORDS["ru" if ru else "en"]
    name = message.get("caller_name") or ("Имя не назвал(а)" if ru else "No name given")
    number = message.get("number") or message.get("number_masked") or ("скрытый номер" if ru else "hidden number")
    lines = [
        f"{'Звонивший' if ru else 'Caller'}: {name}",
        f"{'Номер' if ru else 'Number'}: {number}",
        f"{'Причина' if ru else 'Reason'}: {message.get('reason') or '—'}",
        f"{'Что нужно' if ru else 'Wants'}: {words.get(message.get('intent') or 'other', words['other'])}",
    ]
    if message.get("callback_text"):
        lines.append(f"{'Перезвонить' if ru else 'Call back'}: {message['callback_text']}")
    if message.get("urgency") == "high":
        lines.append("Срочно" if ru else "Urgent")
    lines += ["", message.get("summary") or ""]
    if call_link:
        lines += ["", f"{'Звонок' if ru else 'Call'}: {call_link}"]
    return "\n".join(lines).strip()


def sms_text(message: dict[str, Any], language: str, limit: int = 300) -> str:
    """One line for an SMS: who, the number, what they want, when; cut at ``limit``."""
    ru = language == "ru"
    words = INTENT_WORDS["ru" if ru else "en"]
    who = message.get("caller_name") or ""
    number = message.get("number") or message.get("number_masked") or ""
    parts = [" ".join(p for p in (who, number) if p), words.get(message.get("intent") or "other", words["other"])]
    if message.get("callback_text"):
        parts.append(message["callback_text"])
    if message.get("reason"):
        parts.append(message["reason"])
    out = "СРОЧНО. " if ru and message.get("urgency") == "high" else "URGENT. " if message.get("urgency") == "high" else ""
    out += ": ".join(parts[:1]) + ", " + ", ".join(parts[1:])
    return out if len(out) <= limit else out[: limit - 1].rsplit(" ", 1)[0] + "…"
