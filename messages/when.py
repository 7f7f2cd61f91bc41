"""A callback time said in words ("at five o'clock", "tomorrow at 10:30", "завтра в пять вечера")
resolved to a real moment in the persona's time zone.

A model may write the time as it likes; this turns the caller's own words (or the model's) into
one instant, the same way every time. An hour without "am/pm" is read as business hours: 1 to 7
are the afternoon ("call me at five" on a business line means 17:00), 8 to 11 the morning. A time
already past today, with no day named, is tomorrow's.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

EN_NUMBERS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
EN_MINUTES = {"fifteen": 15, "thirty": 30, "forty five": 45}
# Nominative ("в пять") and genitive ("к пяти", "до шести") forms.
RU_NUMBERS = {
    "час": 1,
    "одного": 1,
    "два": 2,
    "двух": 2,
    "три": 3,
    "трех": 3,
    "трем": 3,
    "четыре": 4,
    "четырех": 4,
    "пять": 5,
    "пяти": 5,
    "шесть": 6,
    "шести": 6,
    "семь": 7,
    "семи": 7,
    "восемь": 8,
    "восьми": 8,
    "девять": 9,
    "девяти": 9,
    "десять": 10,
    "десяти": 10,
    "одиннадцать": 11,
    "одиннадцати": 11,
    "двенадцать": 12,
    "двенадцати": 12,
}
RU_MINUTES = {"пятнадцать": 15, "тридцать": 30, "сорок пять": 45}
EN_DAYS = {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6}
RU_DAYS = {
    "понедельник": 0,
    "вторник": 1,
    "среду": 2,
    "среда": 2,
    "четверг": 3,
    "пятницу": 4,
    "пятница": 4,
    "субботу": 5,
    "суббота": 5,
    "воскресенье": 6,
}

_EN_WORD = "|".join(sorted(EN_NUMBERS, key=len, reverse=True))
_RU_WORD = "|".join(sorted(RU_NUMBERS, key=len, reverse=True))
EN_TIME = re.compile(
    rf"\b(?:at|around|about|by|after|before)\s+(?:(\d{{1,2}})(?:[:.](\d{{2}}))?|({_EN_WORD})(?:[\s-]+(fifteen|thirty|forty[\s-]five))?)"
    r"\s*(a\.?\s?m\.?|p\.?\s?m\.?|o'?\s?clock|in the morning|in the afternoon|in the evening|tonight)?",
)
EN_BARE = re.compile(  # "five o'clock", "5 pm" without a preposition
    rf"\b(?:(\d{{1,2}})(?:[:.](\d{{2}}))?|({_EN_WORD}))\s*(a\.?\s?m\.?\b|p\.?\s?m\.?\b|o'?\s?clock)"
)
EN_HALF_PAST = re.compile(rf"\bhalf past\s+(\d{{1,2}}|{_EN_WORD})\b")
RU_TIME = re.compile(
    rf"(?:^|\s)(?:в|к|около|после|до)\s+"
    rf"(?:(\d{{1,2}})(?:[:.](\d{{2}}))?|({_RU_WORD})(?:\s+(пятнадцать|тридцать|сорок пять))?)"
    r"(?:\s+час(?:а|ов)?)?\s*(утра|дня|вечера|ночи)?",
)


def _hour(h: int, marker: str | None) -> int:
    marker = (marker or "").replace(".", "").replace(" ", "")
    if marker in ("pm", "intheafternoon", "intheevening", "tonight", "дня", "вечера"):
        return h + 12 if h < 12 else h
    if marker in ("am", "inthemorning", "утра", "ночи"):
        return 0 if h == 12 else h
    if h >= 13 or h == 0:
        return h
    return h + 12 if 1 <= h <= 7 else h  # business hours: "at five" is 17:00


def _day_offset(text: str, now: datetime) -> int | None:
    if "day after tomorrow" in text or "послезавтра" in text:
        return 2
    if "tomorrow" in text or "завтра" in text:
        return 1
    if "today" in text or "tonight" in text or "сегодня" in text:
        return 0
    for names in (EN_DAYS, RU_DAYS):
        for name, weekday in names.items():
            if re.search(rf"\b{name}\b", text):
                return (weekday - now.weekday()) % 7 or 7
    return None


def find_time(text: str) -> tuple[int, int] | None:
    """The first clock time said in ``text``, as (hour 0-23, minute), or None."""
    t = text.lower().replace("ё", "е")
    if m := EN_HALF_PAST.search(t):
        h = int(m.group(1)) if m.group(1).isdigit() else EN_NUMBERS[m.group(1)]
        return _hour(h, None), 30
    if re.search(r"\bnoon\b|\bmidday\b|\bв полдень\b", t):
        return 12, 0
    for pattern, words, minutes in ((EN_TIME, EN_NUMBERS, EN_MINUTES), (EN_BARE, EN_NUMBERS, EN_MINUTES)):
        for m in pattern.finditer(t):
            groups = m.groups()
            digits, mins, word = groups[0], groups[1], groups[2]
            extra = groups[3] if pattern is EN_TIME else None
            marker = groups[-1]
            if pattern is EN_TIME and digits and not mins and not marker:
                continue  # "at 3" alone is too weak: "at 3 Main Street"
            h = int(digits) if digits else words[word]
            if h > 23:
                continue
            minute = int(mins) if mins else minutes.get(re.sub(r"[\s-]+", " ", extra or ""), 0)
            if minute > 59:
                continue
            return _hour(h, marker), minute
    for m in RU_TIME.finditer(t):
        digits, mins, word, extra, marker = m.groups()
        h = int(digits) if digits else RU_NUMBERS[word]
        if h > 23 or (mins and int(mins) > 59):
            continue
        if digits and not mins and not marker and not re.search(r"\d\s+час", m.group(0)):
            continue  # "в 3" alone could be anything
        minute = int(mins) if mins else RU_MINUTES.get(extra or "", 0)
        return _hour(h, marker), minute
    return None


def resolve_callback(text: str, now: datetime) -> datetime | None:
    """The moment ``text`` names, in ``now``'s time zone; None when it names no time of day."""
    found = find_time(text)
    if found is None:
        return None
    hour, minute = found
    t = text.lower().replace("ё", "е")
    offset = _day_offset(t, now)
    at = (now + timedelta(days=offset or 0)).replace(hour=hour, minute=minute, second=0, microsecond=0)
    if offset is None and at <= now:
        at += timedelta(days=1)
    return at
