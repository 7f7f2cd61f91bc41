"""Russian text as it is said: numbers, times, dates and phone numbers in words, in the right case.

Festival's Russian voice reads "8 800 555-35-35" digit by digit and fails on "12:30"; a reply
of the LLM or an FAQ answer is full of them ("Мы работаем с 9 до 18"). Russian numbers decline,
so the word depends on what stands before it: "с 9 до 18" is "с девяти до восемнадцати"
(genitive after с/до/от/после/около/из/без), "к 5" is "к пяти" (dative), "в 9" stays "в девять".

- phone numbers (+7 or 8, then groups split by spaces, hyphens or brackets, 10-11 digits in
  all): said group by group, as people say them: "восемь восемьсот пятьсот пятьдесят пять
  тридцать пять тридцать пять"; a group with a leading zero says it ("ноль пять");
- times ``H:MM``: "двенадцать тридцать", "девять ноль пять"; after "с"/"до" they decline
  ("с девяти до семнадцати тридцати");
- years before "год": ordinals in its case ("в две тысячи двадцать шестом году");
- dates ``DD.MM.YYYY`` (or ``DD.MM``): "шестое декабря две тысячи двадцать шестого года";
- other integers: cardinals in the case their preposition asks for; decimals with "целых";
- "№", "%", "руб.", "$", "€", "₽" and "@" in words; "clinic.ru" is "клиник точка ру";
- Latin letters transliterated, and anything else Festival's Russian letter-to-sound rules reject
  (emoji, symbols) left out: one such character failed the whole sentence.

num2words (LGPL, pure Python) does the declension.
"""

from __future__ import annotations

import re

from num2words import num2words

MONTHS_GENITIVE = [
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
]
CASE_AFTER = {
    "с": "genitive",
    "со": "genitive",
    "до": "genitive",
    "от": "genitive",
    "после": "genitive",
    "около": "genitive",
    "из": "genitive",
    "без": "genitive",
    "для": "genitive",
    "кроме": "genitive",
    "к": "dative",
    "ко": "dative",
    "по": "dative",
    "о": "prepositional",
    "об": "prepositional",
    "при": "prepositional",
    "между": "instrumental",
    "над": "instrumental",
    "под": "instrumental",
    "перед": "instrumental",
}
_PHONE = re.compile(r"(?<![\w+])(\+7|8)[\s\-]*\(?(\d{3})\)?[\s\-]*(\d{3})[\s\-]*(\d{2})[\s\-]*(\d{2})(?!\d)")
_DATE = re.compile(r"(?<!\d)(\d{1,2})\.(\d{1,2})(?:\.(\d{4}))?(?![\d.]\d)")
_TIME = re.compile(r"(?<!\d)(\d{1,2}):(\d{2})(?!\d)")
_DECIMAL = re.compile(r"(?<!\d)(\d+),(\d+)(?!\d)")
_NUMBER = re.compile(r"(?<![\w.])(\d+)(?![\d])")
_PREP = re.compile(r"(\w+)\s*$")
_YEAR = re.compile(r"(?<!\d)(\d{4})\s+(году|года|год)\b")
YEAR_CASE = {"год": "nominative", "года": "genitive", "году": "prepositional"}


# Latin letters as a Russian reader says them (a website, a brand, an English word in a reply).
_DIGRAPHS = {"sh": "ш", "ch": "ч", "th": "т", "ph": "ф", "oo": "у", "ee": "и", "ck": "к", "kh": "х", "zh": "ж"}
_LATIN = dict(
    zip(
        "abcdefghijklmnopqrstuvwxyz",
        [
            "а",
            "б",
            "к",
            "д",
            "е",
            "ф",
            "г",
            "х",
            "и",
            "дж",
            "к",
            "л",
            "м",
            "н",
            "о",
            "п",
            "к",
            "р",
            "с",
            "т",
            "у",
            "в",
            "в",
            "кс",
            "й",
            "з",
        ],
        strict=True,
    )
)
_SYMBOLS = {
    "$": " долларов ",
    "€": " евро ",
    "₽": " рублей ",
    "@": " собака ",
    "&": " и ",
    "+": " плюс ",
    "=": " равно ",
    "/": " ",
    "\\": " ",
    "_": " ",
    "*": " ",
    "#": " ",
    "~": " ",
}
_SAYABLE = re.compile(r"[^а-яёА-ЯЁ0-9\s.,!?;:\-]")


def transliterate(word: str) -> str:
    out, i, low = [], 0, word.lower()
    while i < len(low):
        if low[i : i + 2] in _DIGRAPHS:
            out.append(_DIGRAPHS[low[i : i + 2]])
            i += 2
        else:
            out.append(_LATIN.get(low[i], low[i]))
            i += 1
    return "".join(out)


def sayable(text: str) -> str:
    """Only what the Russian voice can say: Latin transliterated, symbols in words, the rest left out."""
    text = re.sub(r"(?<=\w)\.(?=\w)", " точка ", text)
    for symbol, word in _SYMBOLS.items():
        text = text.replace(symbol, word)
    text = re.sub(r"[A-Za-z]+", lambda m: transliterate(m.group(0)), text)
    text = re.sub(r"\s+[—–-]+\s+|\s*[—–]+\s*", ", ", text)  # a dash between words is a pause
    text = re.sub(r"[ \t]+", " ", _SAYABLE.sub(" ", text)).strip()
    return re.sub(r"\s+([.,!?;:])", r"\1", text)


def cardinal(n: int | str, case: str = "nominative", gender: str = "m") -> str:
    return num2words(int(n), lang="ru", case=case, gender=gender)


def _case_before(text: str, start: int) -> str:
    """The case a number at ``start`` takes from the preposition just before it."""
    m = _PREP.search(text[:start])
    return CASE_AFTER.get(m.group(1).lower(), "nominative") if m else "nominative"


def group(digits: str) -> str:
    """A phone number's group, said as a number; its leading zeros said as "ноль"."""
    zeros = len(digits) - len(digits.lstrip("0"))
    rest = digits[zeros:]
    return " ".join(["ноль"] * zeros + ([cardinal(rest)] if rest else []))


def _phone(m: re.Match) -> str:
    head = "плюс семь" if m.group(1) == "+7" else "восемь"
    return ", ".join([head, *(group(g) for g in m.groups()[1:])])


def _date(m: re.Match) -> str:
    day, month, year = int(m.group(1)), int(m.group(2)), m.group(3)
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return m.group(0)
    out = f"{num2words(day, lang='ru', to='ordinal', gender='n')} {MONTHS_GENITIVE[month - 1]}"
    if year:
        out += f" {num2words(int(year), lang='ru', to='ordinal', case='genitive')} года"
    return out


def speakable(text: str) -> str:
    """``text`` with every number written as the words a Russian speaker says."""
    text = _PHONE.sub(_phone, text)
    text = _DATE.sub(_date, text)

    def time(m: re.Match) -> str:
        hour, minute = int(m.group(1)), m.group(2)
        if hour > 24 or int(minute) > 59:
            return m.group(0)
        case = _case_before(m.string, m.start())
        if minute == "00":  # "с 9:00" is "с девяти", "в 12:00" is "в двенадцать ноль-ноль"
            return cardinal(hour, case) + ("" if case != "nominative" else " ноль-ноль")
        minutes = group(minute) if minute.startswith("0") or case == "nominative" else cardinal(minute, case)
        return f"{cardinal(hour, case)} {minutes}"

    text = _TIME.sub(time, text)
    text = _YEAR.sub(
        lambda m: f"{num2words(int(m.group(1)), lang='ru', to='ordinal', case=YEAR_CASE[m.group(2)])} {m.group(2)}", text
    )
    text = _DECIMAL.sub(lambda m: num2words(float(f"{m.group(1)}.{m.group(2)}"), lang="ru"), text)
    text = text.replace("№", " номер ").replace("%", " процентов").replace("руб.", "рублей")
    text = _NUMBER.sub(lambda m: cardinal(m.group(1), _case_before(m.string, m.start())), text)
    return sayable(text)
