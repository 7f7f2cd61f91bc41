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
A trailing ``.`` is held until the next character shows it is not a decimal
point or an abbreviation ("3.5", "т.е.", "Dr.").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

SENTENCE_END = ".!?…"
CLAUSE_END = ",;:—–"
ABBREVIATIONS = {"dr", "mr", "mrs", "ms", "st", "vs", "etc", "e.g", "i.e", "т.е", "т.д", "т.п", "г", "ул", "д",
                 "им", "др", "стр"}


@dataclass
class ChunkerConfig:
    first_min_chars: int = 8
    first_max_words: int | None = None  # None: the first chunk waits for a boundary
    min_chars: int = 24
    max_chars: int = 160

    @classmethod
    def eager(cls) -> ChunkerConfig:
        """The first chunk also goes after six words when no clause of 8 characters came first."""
        return cls(first_max_words=6)


class ClauseChunker:
    def __init__(self, config: ChunkerConfig | None = None) -> None:
        self.config = config or ChunkerConfig()
        self._buf = ""
        self._emitted = 0

    def push(self, text: str) -> Iterator[str]:
        self._buf += text
        while True:
            cut = self._find_cut()
            if cut is None:
                return
            chunk, self._buf = self._buf[:cut].strip(), self._buf[cut:].lstrip()
            if chunk:
                self._emitted += 1
                yield chunk

    def flush(self) -> Iterator[str]:
        chunk, self._buf = self._buf.strip(), ""
        if chunk:
            self._emitted += 1
            yield chunk

    def _find_cut(self) -> int | None:
        buf, cfg = self._buf, self.config
        min_clause = cfg.first_min_chars if self._emitted == 0 else cfg.min_chars
        for i, ch in enumerate(buf):
            nxt = buf[i + 1] if i + 1 < len(buf) else None
            if ch in SENTENCE_END:
                if nxt is None:
                    return None  # wait: decimal point, abbreviation or "..."?
                if ch == "." and (nxt.isdigit() or nxt in SENTENCE_END or self._abbreviation(buf[: i])):
                    continue
                if nxt.isspace() or nxt in "\"'»)":
                    return i + 1 + (1 if nxt in "\"'»)" else 0)
            elif ch in CLAUSE_END and i + 1 >= min_clause:
                if nxt is None:
                    return None
                if nxt.isspace() and (self._emitted == 0 or i + 1 >= cfg.max_chars // 2):
                    return i + 1
        if self._emitted == 0 and cfg.first_max_words:
            words = list(re.finditer(r"\S+\s", buf))
            if len(words) >= cfg.first_max_words:
                return words[cfg.first_max_words - 1].end() - 1
        if len(buf) > cfg.max_chars:
            space = buf.rfind(" ", 0, cfg.max_chars)
            return space if space > 0 else cfg.max_chars
        return None

    @staticmethod
    def _abbreviation(before: str) -> bool:
        word = re.split(r"\s", before)[-1].lower().strip("(\"'«")
        return word in ABBREVIATIONS or (len(word) == 1 and word.isalpha())
