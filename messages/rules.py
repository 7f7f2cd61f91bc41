"""What the caller's own words say for certain: a name they gave, a wish to be called back, a
time, urgency, and the cues of sales and scam calls; in English and Russian.

The model's structured answer (``messages/extract.py``) is checked against these: a small model
invents names and calls everything urgent, but it cannot invent a name the caller never said
past this check, nor bury a real message as spam without a cue in the words.
"""

from __future__ import annotations

import re

NOT_NAMES = {
    "calling",
    "not",
    "just",
    "here",
    "sorry",
    "fine",
    "good",
    "the",
    "a",
    "i",
    "hello",
    "hi",
    "it",
    "your",
    "from",
    "звоню",
    "по",
    "я",
    "вот",
    "насчет",
    "здравствуйте",
}
EN_NAME = re.compile(
    r"\b(?:[Mm]y name is|[Mm]y name's|[Tt]his is|I am|I'm|[Ii]t's)\s+([A-Z][a-z'\-]+(?:\s+[A-Z][a-z'\-]+)?)"
)
RU_NAME = re.compile(r"(?:[Мм]еня зовут|[Мм]о[её] имя|[Ээ]то)\s+([А-ЯЁ][а-яё\-]+(?:\s+[А-ЯЁ][а-яё\-]+)?)")
CALLBACK = re.compile(
    r"call (?:me )?back|callback|give me a call|call me\b|ring me|get back to me|"
    # "перезвонить", and the way phone-line speech recognition often hears it ("перезавонить").
    r"перез[а-яё]{0,2}вон|позвоните мне|наберите мне|свяжитесь со мной|позвонить мне",
    re.IGNORECASE,
)
MEETING = re.compile(
    r"appointment|meeting|\bbook\b|schedule|reserv|запис|встреч|при[её]м|забронир",
    re.IGNORECASE,
)
INFORMATION = re.compile(r"\b(?:what|when|where|how much|do you|are you|is there)\b|сколько|когда|где|какие|есть ли", re.I)
URGENT = re.compile(r"urgent|asap|as soon as possible|emergency|right away|срочн|как можно скорее|немедленно|экстренн", re.I)
SALES = re.compile(
    r"special offer|discount|promotion|our company offers|we offer|limited time|free trial|for your business|"
    r"спецпредложени|специальное предложение|скидк|акци[яи]|предлагаем|наша компания|бесплатн\w* пробн",
    re.IGNORECASE,
)
SPAM = re.compile(
    r"you(?:'ve| have) won|prize|press (?:one|1)\b|loan|credit card|extended warranty|your account (?:has been|is) "
    r"(?:blocked|suspended)|security service|investment opportunit|"
    r"вы выиграли|приз|нажмите (?:один|1)|кредит|займ|служба безопасности|ваша карта заблокирована|инвестиц",
    re.IGNORECASE,
)


def caller_text(transcript: list[dict]) -> str:
    return " ".join(t.get("text", "") for t in transcript if t.get("speaker") == "caller" and t.get("text")).strip()


def find_name(text: str) -> str | None:
    """A name the caller gave for themselves ("My name is John Smith", "Меня зовут Иван Петров")."""
    for pattern in (EN_NAME, RU_NAME):
        for m in pattern.finditer(text):
            words = [w for w in m.group(1).split() if w.lower() not in NOT_NAMES]
            if words and words[0] == m.group(1).split()[0]:
                return " ".join(words)
    return None


def find_intent(text: str) -> str | None:
    if CALLBACK.search(text):
        return "callback"
    if MEETING.search(text):
        return "meeting"
    if INFORMATION.search(text) or "?" in text:
        return "information"
    return None


def is_urgent(text: str) -> bool:
    return bool(URGENT.search(text))


def category_cues(text: str) -> dict[str, int]:
    """How many scam and sales cues the caller's words carry."""
    return {"spam": len(SPAM.findall(text)), "sales": len(SALES.findall(text))}


def name_is_said(name: str, text: str) -> bool:
    """Every word of ``name`` (two letters or more) occurs in what the caller said."""
    said = set(re.findall(r"\w+", text.lower().replace("ё", "е")))
    words = [w for w in re.findall(r"\w+", name.lower().replace("ё", "е")) if len(w) >= 2]
    return bool(words) and all(w in said for w in words)


def shares_words(candidate: str, text: str, at_least: int = 2) -> bool:
    """``candidate`` (a model's reason or summary) uses at least ``at_least`` of the caller's content words."""
    said = {w for w in re.findall(r"\w+", text.lower().replace("ё", "е")) if len(w) >= 4}
    used = {w for w in re.findall(r"\w+", candidate.lower().replace("ё", "е")) if len(w) >= 4}
    return len(said & used) >= min(at_least, len(said))


def in_language(text: str, language: str) -> bool:
    """Written in the persona's script: Cyrillic for Russian, Latin otherwise."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return False
    cyrillic = sum("а" <= c.lower() <= "я" or c.lower() == "ё" for c in letters) / len(letters)
    return cyrillic > 0.6 if language == "ru" else cyrillic < 0.2


GREETING = re.compile(
    r"^(?:hi|hello|good (?:morning|afternoon|evening)|здравствуйте|добрый (?:день|вечер)|привет)\b[,.!]?\s*", re.I
)


def main_reason(text_turns: list[str]) -> str:
    """The caller's longest turn, without greeting and introduction: their reason in their own
    words (200 characters at most)."""
    longest = max(text_turns, key=len, default="").strip()
    longest = GREETING.sub("", longest)
    for pattern in (EN_NAME, RU_NAME):
        longest = pattern.sub("", longest, count=1)
    longest = re.sub(r"^[\s,.;:!-]+", "", longest).strip()
    longest = longest[:1].upper() + longest[1:]
    return longest if len(longest) <= 200 else longest[:197].rsplit(" ", 1)[0] + "…"
