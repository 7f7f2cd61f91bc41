"""When a reply may start playing: at once if its second chunk will be ready in time, a little later if not.

A reply is produced chunk by chunk (the LLM's text, cut into clauses and sentences, then TTS
audio per chunk) and played at real time. Played at once, a reply whose second chunk is not
ready when the first has been played runs dry: the caller hears a silence in the middle of the
answer. With four calls on two cores that was most replies, and it was almost always that one
silence, between the first chunk and the second (BENCHMARKS.md, "Reply playout"): the first
chunk is short, so that the first words come early, and it is made while every call's STT and
LLM compete; later chunks are made while earlier ones play.

So when the first chunk's audio is complete the gate forecasts, from this reply's own
measurements, when the second chunk (``chunk_chars`` characters, or what is left of the reply)
will be ready. The measurements: the LLM's text rate (since its first token or, if faster, while
the first chunk was synthesised); the TTS's pace (seconds of synthesis, queueing included, per
second of audio); seconds of audio per character. Then:

- ready before the first chunk has been played, or less than ``min_hold_s`` after: play now (one
  call: the LLM outruns the TTS, which outruns playback);
- late by ``s``: hold the first chunk ``s`` (at most ``max_hold_s``), or until the second chunk
  is ready, or until a fresher forecast says it will be in time, whichever comes first; then play.

The first forecast is made from the reply's slowest part (the LLM's first tokens), so while the
chunk is held every new piece of text forecasts again: with one call, a short first clause
("I'm Anna,") was held 300-470 ms for a second chunk that came in time anyway.

Holding moves the silence from the middle of the answer to before it, where it sounds like
thinking. ``max_hold_s`` caps that, because the forecast is made from the reply's slow start and
errs long: forecasting the whole reply instead held four-call replies for up to 8 s.
Until the LLM has finished, the reply's length is the typical length of recent replies.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class ReplyLengths:
    """The typical reply length in characters, learned from finished replies (shared per process,
    since a persona's replies are alike from one call to the next)."""

    typical_chars: float = 100.0
    weight: float = 0.3  # of each new reply in the moving average

    def observe(self, chars: int) -> None:
        if chars > 0:
            self.typical_chars += self.weight * (chars - self.typical_chars)


REPLY_LENGTHS = ReplyLengths()


@dataclass
class PlayoutGate:
    """Holds a reply's first chunk while its second would come too late, then lets everything through.

    ``safety`` scales the forecast production time and ``margin_s`` is added to it. A forecast
    lateness under ``min_hold_s`` is not held: a pause that short between two clauses sounds like
    one, and the forecast errs long (with one call, a 0.1 s margin and 1.1 safety held a median
    275 ms that the second chunk did not need).
    """

    lengths: ReplyLengths = field(default_factory=lambda: REPLY_LENGTHS)
    chunk_chars: int = 50
    safety: float = 1.0
    margin_s: float = 0.0
    min_hold_s: float = 0.3
    max_hold_s: float = 1.5
    clock: Callable[[], float] = time.monotonic
    released: bool = False
    held: list = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None  # the session's release after the hold, if holding
    _chunks: int = 0  # chunks whose audio is complete
    _audio_s: float = 0.0  # produced so far
    _audio_chars: int = 0  # characters whose audio is complete
    _tts_s: float = 0.0  # wall time the completed chunks took to synthesise
    _text_chars: int = 0  # characters the LLM has produced so far
    _text_done: bool = False
    _first_token_at: float | None = None
    _chunk_started_at: float | None = None
    _after_first: tuple[float, int] | None = None  # (time, text characters) as the first chunk went to TTS

    def token(self, text: str) -> list:
        """Text from the LLM, as it arrives: its first piece starts the text clock. While the first
        chunk is held, returns it (and all held) once the forecast with this text says the second
        chunk will be in time."""
        if self._first_token_at is None:
            self._first_token_at = self.clock()
        self._text_chars += len(text)
        return self._decide() if self._chunks and self.held else []

    def text_done(self) -> list:
        """The LLM has finished: the reply's length is now known."""
        self._text_done = True
        return self._decide()

    def chunk_started(self) -> None:
        """A chunk goes to the TTS now (its pace is timed from here)."""
        self._chunk_started_at = self.clock()
        if self._after_first is None:
            self._after_first = (self._chunk_started_at, self._text_chars)

    def audio(self, frames: list, seconds: float) -> list:
        """Frames just synthesised; returns the frames to play now (none while holding)."""
        self._audio_s += seconds
        if self.released:
            return frames
        self.held.extend(frames)
        return []

    def chunk_done(self, chars: int) -> list:
        """A chunk's audio is complete: decide, and return what may be played now."""
        self._chunks += 1
        self._audio_chars += chars
        if self._chunk_started_at is not None:
            self._tts_s += self.clock() - self._chunk_started_at
            self._chunk_started_at = None
        return self._decide()

    def hold_s(self) -> float:
        """How long to hold from now, at most: the forecast lateness, capped."""
        return min(max(self.shortfall_s(), 0.0), self.max_hold_s)

    def release(self) -> list:
        """Everything still held (the hold is over, the reply is complete, or it stops)."""
        self.released = True
        self.cancel_timer()
        out, self.held = self.held, []
        return out

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def shortfall_s(self) -> float:
        """How late the second chunk would be if the first started playing now (<= 0: in time)."""
        if self._audio_s <= 0 or self._audio_chars <= 0 or self._first_token_at is None:
            return float("inf")  # nothing measured yet
        per_char = self._audio_s / self._audio_chars
        total = self._text_chars if self._text_done else max(self._text_chars, self.lengths.typical_chars)
        size = min(self.chunk_chars, total - self._audio_chars)
        if size <= 0:
            return -self._audio_s  # nothing more to come
        missing = self._audio_chars + size - self._text_chars
        text_s = missing / max(self._text_rate(), 1e-3) if missing > 0 else 0.0
        tts_s = size * per_char * self._tts_s / self._audio_s
        return (text_s + tts_s) * self.safety + self.margin_s - self._audio_s

    def _text_rate(self) -> float:
        """Characters per second the LLM makes: since its first token, or since the first chunk
        went to TTS if that is faster (the reply's start, when every call's STT and prefill compete,
        is the slow part; text also comes in bursts, so a short quiet spell is not a stall)."""
        now = self.clock()
        overall = self._text_chars / max(now - self._first_token_at, 1e-3)
        if self._after_first is not None and now - self._after_first[0] >= 0.2:
            return max(overall, (self._text_chars - self._after_first[1]) / (now - self._after_first[0]))
        return overall

    def _decide(self) -> list:
        if self.released:
            return []
        if self._chunks >= 2 or self.shortfall_s() < self.min_hold_s:
            return self.release()  # the second chunk is here, or will be in time
        return []
