"""FAQ first: answer a caller's question from the persona's FAQ when it clearly is one.

Two ways to match, both strict on purpose (a wrong canned answer is worse than a generated one):

- an exact trigger: the whole message, normalised (case, punctuation, spacing, ё), equals one of
  the entry's triggers or its question, or does once a leading politeness wrapper is taken off
  ("Подскажите, пожалуйста, часы работы" is the trigger "часы работы"). Never a substring in
  either direction: "hi" must not trigger "Which hospital…", and a one-word message must not
  match every entry containing it;
- a semantic match: the message has at least ``min_words`` words, its embedding's cosine
  similarity with the entry's question (or one of its example phrasings) reaches
  ``threshold``, and it beats the next entry by ``margin`` (two near-equal entries mean the
  question is ambiguous: let the model answer).

E5's raw similarities crowd into 0.8-1.0 for any two questions of the same language. The
vectors are therefore centred on the mean of a fixed set of everyday call phrases before the
cosine: what every question shares drops out, what this one asks remains. The defaults were
tuned on paraphrases and near misses in English and Russian (``tests/personas/test_faq.py``):
no near miss matched; about half the paraphrases did, the rest go to the model.

Answers may hold ``{current_time}``, ``{current_date}`` and ``{day_of_week}``, filled in the
persona's time zone and language.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from personas.embeddings import TextEmbedder
from personas.schemas import FaqEntry, Persona

PLACEHOLDER = re.compile(r"\{(current_time|current_date|day_of_week)\}")
DAYS = {
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "ru": ["понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье"],
}
MONTHS = {
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    "ru": [
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
    ],
}


# Everyday phrases of phone calls, English and Russian: their mean is the direction that every
# sentence shares, removed before comparing.
BACKGROUND = [
    "Hello",
    "Good morning, I have a question",
    "Can you help me?",
    "Thank you, goodbye",
    "I would like to talk to someone",
    "Is anyone there?",
    "Sorry, I did not hear you",
    "What is the weather like today?",
    "I need some information",
    "I want to order a pizza",
    "My car broke down",
    "Please call me back later",
    "Здравствуйте",
    "У меня вопрос",
    "Спасибо, до свидания",
    "Вы меня слышите?",
    "Мне нужна помощь",
    "Какая сегодня погода?",
    "Я хочу заказать такси",
    "Перезвоните мне позже",
]


# How callers wrap a question without changing it: "Can you tell me…", "Подскажите, пожалуйста, …".
# The wrapper weighs in the embedding as much as the question does ("Подскажите, пожалуйста, часы
# работы" scored 0.61 against "Какие у вас часы работы?"), so a message is also scored without it,
# and the better of the two counts. Only a leading wrapper goes; the question itself is never cut.
_GREETING = (
    r"(?:hi|hello|good (?:morning|afternoon|evening)|excuse me|sorry|yes|ok(?:ay)?|so|and|well|"
    r"здравствуйте|добрый (?:день|вечер)|алло|извините|да|а)"
)
_ASKING = (
    r"(?:(?:can|could|would) you (?:please )?(?:tell|let) me(?: know)?|please tell me|tell me(?: please)?|"
    r"i(?:'d| would) like to know|i want to know|i wanted to ask|i was wondering|do you know|may i ask|"
    r"(?:не )?подскаж(?:ите|ете)|скажите|расскажите|я хотел[аи]? (?:бы )?(?:узнать|спросить)|"
    r"хочу (?:узнать|спросить)|можно (?:узнать|спросить))"
)
_WRAPPERS = re.compile(
    rf"^(?:{_GREETING}[,.!]?\s+|{_ASKING}(?:[,.!]?\s*(?:please|пожалуйста|мне))*[,.!:]?\s+)", re.IGNORECASE
)


def unwrapped(message: str) -> str:
    """The message without a leading politeness wrapper ("" when nothing is left to ask)."""
    text = message.strip()
    for _ in range(4):  # "Здравствуйте, подскажите, пожалуйста, …"
        cut = _WRAPPERS.sub("", text, count=1)
        if cut == text:
            break
        text = cut
    text = text.lstrip(" ,.-")
    return text if text != message.strip() and text.strip(" ?!.") else ""


_DETERMINERS = re.compile(r"^(?:(?:your|the|our|ваш[иа]?|у вас|ваше)\s+)+")


def trigger_forms(message: str) -> set[str]:
    """The normalised forms an exact trigger is compared with: the message, and the question it
    wraps without its determiner ("Can you tell me your address?" -> "address")."""
    forms = {normalise(message)}
    if bare := unwrapped(message):
        forms |= {normalise(bare), _DETERMINERS.sub("", normalise(bare))}
    return forms - {""}


@dataclass(frozen=True)
class FaqConfig:
    threshold: float = 0.82  # centred cosine similarity (see the module's docstring)
    margin: float = 0.1
    min_words: int = 3
    unwrap: bool = True  # also score the message without its politeness wrapper (see _WRAPPERS)

    @classmethod
    def from_dict(cls, d: dict | None) -> FaqConfig:
        return cls(**(d or {}))


@dataclass(frozen=True)
class FaqHit:
    index: int
    entry: FaqEntry
    score: float
    how: str  # "trigger" | "semantic"

    @property
    def key(self) -> str:
        return entry_key(self.entry)


def entry_key(entry: FaqEntry) -> str:
    """A stable id for an entry's hit count: its normalised question, hashed."""
    return hashlib.sha1(normalise(entry.question).encode()).hexdigest()[:16]


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")
    text = "".join(" " if unicodedata.category(c)[0] in "PSZC" else c for c in text)
    return " ".join(text.split())


def render(answer: str, persona: Persona, now: datetime | None = None) -> str:
    """Fill the time placeholders in the persona's time zone and language."""
    now = (now or datetime.now(ZoneInfo("UTC"))).astimezone(ZoneInfo(persona.timezone))
    lang = persona.language if persona.language in DAYS else "en"

    def value(m: re.Match) -> str:
        if m.group(1) == "current_time":
            return now.strftime("%H:%M")
        if m.group(1) == "day_of_week":
            return DAYS[lang][now.weekday()]
        month = MONTHS[lang][now.month - 1]
        return f"{now.day} {month} {now.year}" if lang == "ru" else f"{month} {now.day}, {now.year}"

    return PLACEHOLDER.sub(value, answer)


class FaqMatcher:
    def __init__(self, embedder: TextEmbedder, config: FaqConfig | None = None) -> None:
        self.embedder, self.config = embedder, config or FaqConfig()
        self._vectors: dict[tuple[tuple[str, ...], ...], list[np.ndarray]] = {}
        self._centre: np.ndarray | None = None

    async def _entry_vectors(self, faq: list[FaqEntry]) -> list[np.ndarray]:
        """Per entry, the centred vectors of its question and example phrasings (cached)."""
        key = tuple((e.question, *e.examples) for e in faq)
        if key not in self._vectors:
            if len(self._vectors) > 256:  # personas are few; stale versions go
                self._vectors.clear()
            texts = [t for phrasings in key for t in phrasings]
            flat = await self._embed(texts)
            out, at = [], 0
            for phrasings in key:
                out.append(flat[at : at + len(phrasings)])
                at += len(phrasings)
            self._vectors[key] = out
        return self._vectors[key]

    async def _raw(self, texts: list[str]) -> np.ndarray:
        aembed = getattr(self.embedder, "aembed", None)
        if aembed is not None:
            return await aembed(texts)
        return self.embedder.embed(texts)

    async def _ensure_centre(self) -> None:
        if self._centre is None:
            self._centre = (await self._raw(BACKGROUND)).mean(axis=0)

    async def _embed(self, texts: list[str]) -> np.ndarray:
        await self._ensure_centre()
        v = await self._raw(texts) - self._centre
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)

    async def _scores(self, persona: Persona, message: str) -> np.ndarray:
        """Per entry, the best similarity of the message, or of the message without its wrapper."""
        vectors = await self._entry_vectors(persona.faq)
        bare = unwrapped(message) if self.config.unwrap else ""
        queries = await self._embed([message, bare] if len(bare.split()) >= 2 else [message])
        return np.array([float((m @ queries.T).max()) for m in vectors])

    async def warm(self, persona: Persona | None = None) -> None:
        """Load the model and embed the background and the persona's entries now, not during a call.

        The first match otherwise pays for it (a few hundred ms of CPU) at the end of a caller's
        turn, when the call's real-time audio needs the cores most.
        """
        await self._ensure_centre()
        if persona is not None and persona.faq:
            await self._entry_vectors(persona.faq)

    async def match(self, persona: Persona, message: str) -> FaqHit | None:
        if not persona.faq or not message.strip():
            return None
        text = normalise(message)
        forms = trigger_forms(message) if self.config.unwrap else {text}
        for i, entry in enumerate(persona.faq):
            if forms & {normalise(t) for t in [entry.question, *entry.triggers]}:
                return FaqHit(i, entry, 1.0, "trigger")
        if len(text.split()) < self.config.min_words:
            return None
        scores = await self._scores(persona, message)
        order = np.argsort(scores)[::-1]
        best = float(scores[order[0]])
        runner_up = float(scores[order[1]]) if len(order) > 1 else -1.0
        if best >= self.config.threshold and best - runner_up >= self.config.margin:
            return FaqHit(int(order[0]), persona.faq[int(order[0])], best, "semantic")
        return None

    async def scores(self, persona: Persona, message: str) -> list[float]:
        """Every entry's similarity to the message (for tuning the threshold)."""
        return [float(s) for s in await self._scores(persona, message)]
