"""Cut a stream of LLM tokens into pieces worth speaking: sentences, or clauses when long enough.

TTS needs whole phrases to sound natural, but waiting for the whole reply wastes the first
second of a call. The first chunk is released at the first clause boundary once it has
``first_min_chars``, or after ``first_max_words`` words if no such boundary comes first; later
chunks at sentence ends, or at clause boundaries past ``max_chars``. A first chunk as short as
"Sure," is not allowed: Piper (VITS) then starts the rest as a fresh utterance, and Whisper
misheard two renditions in ten of "Sure," + "I can book you in for Friday at ten." (none in ten
when split after six words). From 8 characters on ("I'm Anna,", "Of course,", "Thank you,")
split replies were heard as well as whole ones (five renditions each of six replies), and a
reply that opens so starts 250-300 ms sooner than when it waits for 12 (BENCHMARKS.md).

Each later chunk is at most ``growth`` times as long as the one before it (at least
``2 * min_chars``, at most ``max_chars``): at a sentence end if one comes first, else at a clause
boundary past half that, else (when a quarter more has come with no sentence end) at its last
clause boundary, or before its last phrase opener past half of it, or at its last space whose
word does not lean on the next ("the assistant", not "of the"). A chunk is synthesised while the one
before it plays, and Piper returns a sentence's audio only when all of it is made; with four
calls on two cores a whole sentence behind "I'm Anna," (0.7 s of audio) came 0.1-0.8 s too late
in 6 of 32 answers, and a 4.8 s sentence behind a 1.8 s one in another (BENCHMARKS.md, "Chunks
that grow"). The floor is 32 characters, not 48: the playout gate forecasts the second chunk at
its bound, and 60 characters behind "I'm Anna," held one-call replies 200-450 ms for a second
chunk ("a friendly phone secretary.") that came in time (BENCHMARKS.md, session 14).
A trailing ``.`` is held until the next character shows it is not a decimal
point or an abbreviation ("3.5", "т.е.", "Dr.").

With ``first_phrase_min_chars`` (the default; ``clause()`` turns it off), a first clause that
runs long is cut before the first word that opens a phrase (a preposition or conjunction:
"with", "to", "because", "и", "чтобы"…) at that many characters or more: "I'm not familiar" /
"with the local area,". Replies that open without a short clause ("I'm here to assist with
any project or task.") otherwise make the caller wait for the LLM's whole first sentence and
its synthesis. A chunk cut inside a sentence is synthesised with a comma after it
(``for_speech``), so the voice pauses there as at a phrase's end, not as at a full stop.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

SENTENCE_END = ".!?…"
CLAUSE_END = ",;:—–"
# Words a phrase opens with, before which a long first clause may be cut (English and Russian).
PHRASE_OPENERS = frozenset(
    "with without for to and but or because so if when while until unless in on at about from into"
    " than that which who where whether after before since through during like as"
    " и но а или что чтобы если когда пока потому поэтому где который которая которое которые"
    " в во на с со для по о об до после из у к за при без".split()
)
# Words that lean on the word after them: a chunk cut at a space does not end with one ("… of the").
CLINGERS = PHRASE_OPENERS | frozenset(
    "a an the of my your our their his her its this these those very not no"
    " не ни мой моя мои наш наша наши ваш ваша ваши этот эта эти".split()
)
# Letters' worth of speech in one digit (``spoken_chars``): with the CPU profile's voice a digit
# took 4.5-13 letters' time in nine phrases with numbers (phone numbers, times, prices), median 6.
DIGIT_CHARS = 6
ABBREVIATIONS = {
    "dr",
    "mr",
    "mrs",
    "ms",
    "st",
    "vs",
    "etc",
    "e.g",
    "i.e",
    "т.е",
    "т.д",
    "т.п",
    "г",
    "ул",
    "д",
    "им",
    "др",
    "стр",
}


@dataclass
class ChunkerConfig:
    first_min_chars: int = 8
    first_max_words: int | None = None  # None: the first chunk waits for a boundary
    # A first clause this long or longer may be cut before a phrase opener (None: never)
    first_phrase_min_chars: int | None = 8
    min_chars: int = 16
    max_chars: int = 160
    growth: float | None = 2.0  # a later chunk's length, at most, over the chunk before it (None: max_chars)

    def __post_init__(self) -> None:
        if self.growth is not None and self.growth < 1:
            raise ValueError(f"growth must be at least 1 (or None), got {self.growth}")

    @classmethod
    def clause(cls) -> ChunkerConfig:
        """The first chunk waits for a clause of 8 characters (or the sentence's end)."""
        return cls(first_phrase_min_chars=None)

    @classmethod
    def eager(cls) -> ChunkerConfig:
        """The first chunk also goes after six words when no clause of 8 characters came first."""
        return cls(first_max_words=6, first_phrase_min_chars=None)

    @classmethod
    def phrase(cls) -> ChunkerConfig:
        """The default: the first chunk also goes before a phrase opener, from 8 characters, when no
        clause came first."""
        return cls()


class ClauseChunker:
    def __init__(self, config: ChunkerConfig | None = None) -> None:
        self.config = config or ChunkerConfig()
        self._buf = ""
        self._emitted = 0
        self._last_chars = 0  # the length of the chunk emitted last

    def _limit(self) -> int:
        """Where the next chunk should end, at most (the first has rules of its own)."""
        cfg = self.config
        if self._emitted == 0 or cfg.growth is None:
            return cfg.max_chars
        return int(min(cfg.max_chars, max(2 * cfg.min_chars, cfg.growth * self._last_chars)))

    @property
    def next_max_chars(self) -> int:
        """How long the next chunk can be: its limit, and a quarter more for a sentence that ends there."""
        limit = self._limit()
        return limit if self._emitted == 0 else limit + min(limit // 4, self.config.max_chars - limit)

    def push(self, text: str) -> Iterator[str]:
        self._buf += text
        while True:
            cut = self._find_cut()
            if cut is None:
                return
            if chunk := self._take(cut):
                yield chunk

    @property
    def pending_text(self) -> str:
        """Text received and not yet cut into a chunk."""
        return self._buf.strip()

    def cut_now(self) -> str | None:
        """The text so far, up to its best boundary, as a chunk at once: for when the reply's queued
        audio is about to run out before the sentence ends. The best boundary is the last clause
        end or phrase opener, else the last space whose word does not lean on the next, else just
        after the last hyphen that follows two groups of digits (a phone number is said group by
        group; ``for_speech`` says the hyphen as a pause). It leaves a word still being written in
        the buffer, and a chunk is at least ``first_min_chars`` long. None if there is no such
        boundary yet."""
        buf, least = self._buf, self.config.first_min_chars
        cut = max(_last_clause_end(buf, least, len(buf) - 1), _last_opener(buf, least, len(buf)))
        cut = cut or _last_loose_space(buf, least, len(buf))  # the latest natural boundary: the most audio
        cut = cut or _last_digit_hyphen(buf, least)  # "at 1-800-" now, "299-9299." when it is written
        return self._take(cut) if cut else None

    def flush(self) -> Iterator[str]:
        if chunk := self._take(len(self._buf)):
            yield chunk

    def _take(self, cut: int) -> str:
        """The buffer up to ``cut`` as a chunk (empty if only spaces), counted as the latest one."""
        chunk, self._buf = self._buf[:cut].strip(), self._buf[cut:].lstrip()
        if chunk:
            self._emitted, self._last_chars = self._emitted + 1, len(chunk)
        return chunk

    def _find_cut(self) -> int | None:
        buf, cfg = self._buf, self.config
        min_clause = cfg.first_min_chars if self._emitted == 0 else cfg.min_chars
        limit, over = self._limit(), self.next_max_chars
        # Past the limit: a sentence that ends within a quarter more is still taken whole (no
        # "clinic." left on its own), else the cut is at the last clause boundary, else at a space.
        phrase = self._phrase_cut(buf[:over]) if self._emitted == 0 and cfg.first_phrase_min_chars else None
        for i, ch in enumerate(buf[:over]):  # never past it, however much text came at once
            if phrase is not None and i >= phrase:
                return phrase  # a phrase opener comes before any boundary
            nxt = buf[i + 1] if i + 1 < len(buf) else None
            if ch in SENTENCE_END:
                if nxt is None:
                    return None  # wait: decimal point, abbreviation or "..."?
                if ch == "." and (nxt.isdigit() or nxt in SENTENCE_END or self._abbreviation(buf[:i])):
                    continue
                if nxt.isspace() or nxt in "\"'»)":
                    return i + 1 + (1 if nxt in "\"'»)" else 0)
            elif ch in CLAUSE_END and i + 1 >= min_clause:
                if nxt is None:
                    return None
                if nxt.isspace() and (self._emitted == 0 or i + 1 >= limit // 2):
                    return i + 1
        if self._emitted == 0 and cfg.first_max_words:
            words = list(re.finditer(r"\S+\s", buf))
            if len(words) >= cfg.first_max_words:
                return words[cfg.first_max_words - 1].end() - 1
        if len(buf) > over:
            # the last clause end; else before the last phrase opener past half the limit ("I can
            # help you" / "with booking an appointment"); else at the last space past half of it
            # whose word does not lean on the next ("the assistant", not "of the"); else any space
            cut = (
                _last_clause_end(buf, cfg.first_min_chars, limit)
                or _last_opener(buf, limit // 2, limit)
                or _last_loose_space(buf, limit // 2, limit)
            )
            if cut:
                return cut
            space = buf.rfind(" ", 0, limit)
            return space if space > 0 else limit
        return None

    def _phrase_cut(self, buf: str) -> int | None:
        """Where a long first clause may end: before the first whole phrase opener from
        ``first_phrase_min_chars`` characters on, once the word after it shows that the clause
        does not end there ("Our clinic opens at nine." stays whole: no "at nine." alone)."""
        for m in re.finditer(r"(?<=\w)\s+(\w+)(?=\s+(\S+)\s)", buf):
            if (
                m.start() >= self.config.first_phrase_min_chars
                and m.group(1).lower() in PHRASE_OPENERS
                and m.group(2)[-1] not in SENTENCE_END + CLAUSE_END
            ):
                return m.start()
        return None

    @staticmethod
    def _abbreviation(before: str) -> bool:
        word = re.split(r"\s", before)[-1].lower().strip("(\"'«")
        return word in ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def spoken_chars(text: str) -> int:
    """``text``'s length in letters' worth of speech: a digit counts ``DIGIT_CHARS``, since it is
    said as a word ("nine", "hundred"). The playout gate and the low-water check forecast audio
    and its synthesis from characters; counted plainly, "at 1-800-299-9299." looked like a
    second of audio and was 5.4 s (BENCHMARKS.md, session 15)."""
    return len(text) + (DIGIT_CHARS - 1) * sum(ch.isdigit() for ch in text)


# A chunk cut just after a number's hyphen ("Call us at 1-800-"): said with a pause, glued to the next.
_ENDS_IN_NUMBER_HYPHEN = re.compile(r"\d-$")


def for_speech(chunk: str) -> str:
    """A chunk as it is synthesised: one cut inside a sentence (it ends in a word, or in the hyphen
    after a group of digits) gets a comma, which the voice's phonemizer reads as a phrase end, so
    the pause before the next chunk sounds like one."""
    if _ENDS_IN_NUMBER_HYPHEN.search(chunk):
        return f"{chunk[:-1]},"
    return f"{chunk}," if chunk and chunk[-1].isalnum() else chunk


def joined(chunks: list[str]) -> str:
    """The reply as written, from its chunks: spaces between them, except after a chunk that ends
    in a number's hyphen ("1-800-" + "299-9299." is "1-800-299-9299.")."""
    text = ""
    for chunk in chunks:
        text += chunk if not text or _ENDS_IN_NUMBER_HYPHEN.search(text) else f" {chunk}"
    return text


def _last_clause_end(buf: str, lo: int, hi: int) -> int:
    """Where the last clause ending at ``lo`` characters or more, before ``hi``, ends (0: none)."""
    return max(
        (i + 1 for i in range(lo - 1, min(hi, len(buf) - 1)) if buf[i] in CLAUSE_END and buf[i + 1].isspace()), default=0
    )


def _last_opener(buf: str, lo: int, hi: int) -> int:
    """The space before the last whole phrase opener that starts between ``lo`` and ``hi`` (0: none)."""
    return max(
        (
            m.start()
            for m in re.finditer(r"(?<=\w)\s+(\w+)(?=\s)", buf[: hi + 1])
            if m.start() >= lo and m.group(1).lower() in PHRASE_OPENERS
        ),
        default=0,
    )


def _last_digit_hyphen(buf: str, lo: int) -> int:
    """Just after the last hyphen that follows two or more groups of digits ("1-800-", not the
    range "9-18"), at ``lo`` characters or more (0: none)."""
    return max(
        (
            m.end()
            for m in re.finditer(r"(?<=\d)-(?=\d)", buf)
            if m.start() >= lo and re.search(r"\d-\d+$", buf[: m.start()])
        ),
        default=0,
    )


def _last_loose_space(buf: str, lo: int, hi: int) -> int:
    """The last space between ``lo`` and ``hi`` whose word before it does not lean on the next (0: none)."""
    for m in reversed(list(re.finditer(r"\s", buf[:hi]))):
        if m.start() < lo:
            break
        before = buf[: m.start()].split()
        if before and re.sub(r"\W", "", before[-1]).lower() not in CLINGERS:
            return m.start()
    return 0
