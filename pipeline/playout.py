"""When a reply may start playing: at once if its second chunk will be ready in time, a little later if not.

A reply is produced chunk by chunk (the LLM's text, cut into clauses and sentences, then TTS
audio per chunk) and played at real time. Played at once, a reply whose second chunk is not
ready when the first has been played runs dry: the caller hears a silence in the middle of the
answer. With four calls on two cores that was most replies, and it was almost always that one
silence, between the first chunk and the second (BENCHMARKS.md, "Reply playout"): the first
chunk is short, so that the first words come early, and it is made while every call's STT and
LLM compete; later chunks are made while earlier ones play.

So when the first chunk's audio is complete the gate forecasts, from this reply's own
measurements, when the second chunk (``chunk_chars`` characters, or what is left of the reply;
the session sets it to the chunker's bound on the next chunk) will be ready. The measurements:
the LLM's text rate (since its first token or, if faster, while the first chunk was
synthesised); the TTS's pace (seconds of synthesis, queueing included, per second of audio);
seconds of audio per character. Then:

- ready before the first chunk has been played, or less than ``min_hold_s`` after (while this is
  the only reply being made; any lateness counts while others are): play now (one call: the
  LLM outruns the TTS, which outruns playback);
- late by ``s``: hold the first chunk until a fresher forecast says the second will be in time
  (one is made with every new piece of text, and when ``s`` has passed), or until the second
  chunk is ready, or for ``max_hold_s`` at most; then play.

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
import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from pipeline.chunker import spoken_chars


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
class ForecastErrors:
    """How the gate's forecasts turned out lately: the second chunk's real production time over the
    forecast one, for the last ``window`` replies (shared per process: its calls share the
    machine's cores, so the error of one reply is the next one's too).

    ``safety()`` is the largest of them, within ``[low, high]``: the gate scales its next forecasts
    by it, as a jitter buffer sets its delay from the latest late packets. Alone on two cores a
    reply's forecast errs long (rates measured on its slow start; the second chunk's size taken
    at the chunker's bound), and a fixed factor of 1.15 held one-call replies a median 93 ms;
    with four calls at a time it errs short, and without a factor 2-3 of 32 answers ran dry
    for 20-200 ms (BENCHMARKS.md, "Chunks that grow").
    """

    window: int = 8
    low: float = 1.0  # never trust a forecast more than as made: load can arrive at any reply
    high: float = 1.6
    min_forecast_s: float = 0.1  # shorter forecasts are noise over a ratio
    ratios: deque[float] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self.ratios = deque(self.ratios, maxlen=self.window)

    def observe(self, forecast_s: float, actual_s: float) -> None:
        if forecast_s >= self.min_forecast_s and actual_s >= 0:
            self.ratios.append(actual_s / forecast_s)

    def safety(self) -> float:
        """1.0 until a few replies have been measured."""
        if len(self.ratios) < 3:
            return 1.0
        return min(max(max(self.ratios), self.low), self.high)


FORECAST_ERRORS = ForecastErrors()


@dataclass
class SynthesisTimes:
    """How long the TTS takes to make a chunk: a fixed cost plus a pace per second of audio, fitted
    (least squares) to the last ``window`` chunks of every reply in the process.

    A reply's only measurement when the gate decides is its first chunk, which is short; on its
    own it says the pace is its whole time over its audio. But a chunk's time is mostly fixed cost
    (the handle's round trip, the voice's per-utterance work): on the CPU profile "I'm Anna,"
    (0.7 s of audio) took 64 ms through the TTS handle and a 2.5 s clause 150 ms. Scaled by audio
    alone, a 60-character second chunk was forecast at 0.8 s of synthesis instead of 0.3 s, and
    with one call the gate held replies 200-450 ms that did not need it (BENCHMARKS.md).
    """

    window: int = 32
    min_samples: int = 8
    min_spread_s: float = 1.0  # the chunks' audio must differ this much for a slope to mean anything
    samples: deque[tuple[float, float]] = field(default_factory=deque)  # (audio s, synthesis s)
    _fitted: tuple[tuple[float, float] | None] | None = None  # the model as last fitted; None: fit again

    def __post_init__(self) -> None:
        self.samples = deque(self.samples, maxlen=self.window)

    def observe(self, audio_s: float, synthesis_s: float) -> None:
        if audio_s > 0 and synthesis_s >= 0:
            self.samples.append((audio_s, synthesis_s))
            self._fitted = None

    def clear(self) -> None:
        self.samples.clear()
        self._fitted = None

    def model(self) -> tuple[float, float] | None:
        """(fixed s, s per s of audio), or None while too few or too alike chunks have been seen.
        Fitted again only after a new chunk (it is asked on every token of a reply)."""
        if self._fitted is None:
            self._fitted = (self._fit(),)
        return self._fitted[0]

    def _fit(self) -> tuple[float, float] | None:
        if len(self.samples) < self.min_samples:
            return None
        audio = [a for a, _ in self.samples]
        if max(audio) - min(audio) < self.min_spread_s:
            return None
        n = len(self.samples)
        mean_a, mean_w = sum(audio) / n, sum(w for _, w in self.samples) / n
        var = sum((a - mean_a) ** 2 for a in audio)
        pace = max(0.0, sum((a - mean_a) * (w - mean_w) for a, w in self.samples) / var)
        fixed = min(max(mean_w - pace * mean_a, 0.0), min(w for _, w in self.samples))
        return fixed, pace


SYNTHESIS_TIMES = SynthesisTimes()


@dataclass
class ReplyLoad:
    """How many replies this process is making at this moment (shared per process, like the
    forecasts' errors: its calls share the machine's cores).

    Alone, a reply's forecast errs long and a small forecast lateness is not worth a hold; with
    others being made beside it, the cores it was measured on are shared from one moment to the
    next and its forecast errs short: four calls ran dry 20-100 ms after a first chunk that the
    gate had let play with a forecast lateness under 0.1 s (BENCHMARKS.md, session 14).
    """

    active: int = 0

    @contextlib.contextmanager
    def making(self) -> Iterator[None]:
        """Counts one reply while it is being made (its LLM text and its chunks' synthesis)."""
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1


REPLY_LOAD = ReplyLoad()


@dataclass
class PlayoutGate:
    """Holds a reply's first chunk while its second would come too late, then lets everything through.

    ``safety`` scales the forecast production time and ``margin_s`` is added to it. When this
    reply is the only one being made (``load``), a forecast lateness under ``min_hold_s`` is not
    held: alone, the forecast errs long (with one call, a 0.1 s margin and 1.1 safety held a
    median 275 ms that the second chunk did not need). It was 0.3 s, as a pause that short
    between two clauses sounds like one; but with four calls three of 20 answers then ran dry
    for 20-200 ms after their first clause, and at 0.1 s one in 96 still did. So while other
    replies are being made, any lateness over ``busy_min_hold_s`` is held: a held first chunk
    goes as soon as a fresher forecast says the second is in time, so a short hold costs little.
    """

    lengths: ReplyLengths = field(default_factory=lambda: REPLY_LENGTHS)
    errors: ForecastErrors = field(default_factory=lambda: FORECAST_ERRORS)
    synthesis: SynthesisTimes = field(default_factory=lambda: SYNTHESIS_TIMES)
    chunk_chars: int = 50
    safety: float | None = None  # None: learned, ``errors.safety()``
    margin_s: float = 0.0
    min_hold_s: float = 0.1
    busy_min_hold_s: float = 0.0  # instead of ``min_hold_s`` while other replies are being made
    max_hold_s: float = 1.5
    load: ReplyLoad = field(default_factory=lambda: REPLY_LOAD)
    clock: Callable[[], float] = time.monotonic
    released: bool = False
    # What let the first chunk play ("at_once", "forecast", "second_chunk", "timer", "end": the
    # reply was complete or stopped) and how long it was held: the call record keeps both.
    released_by: str | None = None
    held_for_s: float = 0.0
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
    _chunk_audio_from: float = 0.0  # audio produced when the chunk being synthesised started
    _done_audio_s: float = 0.0  # audio of the chunks whose synthesis is complete
    _after_first: tuple[float, int] | None = None  # (time, text characters) as the first chunk went to TTS
    _forecast: tuple[float, float] | None = None  # (time, production s) as the first chunk's audio was complete
    _held_at: float | None = None  # when the first chunk's audio was complete and held

    def token(self, text: str) -> list:
        """Text from the LLM, as it arrives: its first piece starts the text clock. While the first
        chunk is held, returns it (and all held) once the forecast with this text says the second
        chunk will be in time."""
        if self._first_token_at is None:
            self._first_token_at = self.clock()
        self._text_chars += spoken_chars(text)
        return self._decide() if self._chunks and self.held else []

    def text_done(self) -> list:
        """The LLM has finished: the reply's length is now known."""
        self._text_done = True
        return self._decide()

    def chunk_started(self) -> None:
        """A chunk goes to the TTS now (its pace is timed from here)."""
        self._chunk_started_at = self.clock()
        self._chunk_audio_from = self._audio_s
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
        now = self.clock()
        if self._chunk_started_at is not None:
            self._tts_s += now - self._chunk_started_at
            self.synthesis.observe(self._audio_s - self._chunk_audio_from, now - self._chunk_started_at)
            self._chunk_started_at = None
        self._done_audio_s = self._audio_s
        if self._chunks == 1:
            production = self.production_s()
            if production is not None and production != float("inf"):
                self._forecast = (now, production)
        elif self._chunks == 2 and self._forecast is not None:
            self.errors.observe(self._forecast[1], now - self._forecast[0])
        return self._decide()

    def hold_s(self) -> float:
        """How long to hold from now, at most: the forecast lateness, capped by what is left of
        ``max_hold_s`` since the hold began."""
        left = self.max_hold_s - (self.clock() - self._held_at if self._held_at is not None else 0.0)
        return max(min(self.shortfall_s(), left), 0.0)

    def hold_over(self) -> list:
        """The hold's timer is up: everything held, unless a forecast made now still says the second
        chunk would be late and ``max_hold_s`` has not passed (then nothing: hold ``hold_s()`` more).
        The timer was set from the forecast of its moment; text that came since, or did not, may
        say otherwise, and played now the first chunk would run dry for that lateness."""
        if self.released:
            return []
        if self.hold_s() > 0 and self.shortfall_s() >= self.tolerance_s():
            return []
        return self.release("timer")

    def release(self, by: str = "end") -> list:
        """Everything still held (the hold is over, the reply is complete, or it stops); ``by``: why."""
        if not self.released:
            self.released, self.released_by = True, by
            if self._held_at is not None:
                self.held_for_s = self.clock() - self._held_at
        self.cancel_timer()
        out, self.held = self.held, []
        return out

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def shortfall_s(self) -> float:
        """How late the second chunk would be if the first started playing now (<= 0: in time)."""
        production = self.production_s()
        if production is None:
            return -self._audio_s  # nothing more to come
        safety = self.errors.safety() if self.safety is None else self.safety
        return production * safety + self.margin_s - self._audio_s

    def production_s(self) -> float | None:
        """The forecast time from now until the second chunk's audio is complete: its missing text
        at the LLM's rate, then its synthesis at the TTS's pace (inf: nothing measured yet; None:
        no more chunks)."""
        if self._audio_s <= 0 or self._audio_chars <= 0 or self._first_token_at is None:
            return float("inf")
        per_char = self._audio_s / self._audio_chars
        total = self._text_chars if self._text_done else max(self._text_chars, self.lengths.typical_chars)
        size = min(self.chunk_chars, total - self._audio_chars)
        if size <= 0:
            return None
        missing = self._audio_chars + size - self._text_chars
        text_s = missing / max(self._text_rate(), 1e-3) if missing > 0 else 0.0
        return text_s + self._synthesis_s(size * per_char)

    def synthesis_s(self, chars: int) -> float:
        """How long the TTS will take to make ``chars`` more characters of this reply (0.0 until a
        chunk's audio is complete: nothing to forecast from)."""
        if self._done_audio_s <= 0 or self._audio_chars <= 0:
            return 0.0
        return self._synthesis_s(chars * self._audio_s / self._audio_chars)

    def _synthesis_s(self, audio_s: float) -> float:
        """How long the TTS will take to make ``audio_s`` of audio: the process's model of a chunk's
        time (fixed + pace), scaled by how this reply's chunks fared against it (its load);
        without a model, this reply's own time per second of audio."""
        model = self.synthesis.model()
        if model is None:
            return audio_s * self._tts_s / self._audio_s
        fixed, pace = model
        expected = self._chunks * fixed + pace * self._done_audio_s  # what the model says this reply's chunks took
        if expected <= 0:
            return audio_s * self._tts_s / self._audio_s
        return (fixed + pace * audio_s) * self._tts_s / expected

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
        if self._chunks >= 2:
            return self.release("second_chunk")
        if self.shortfall_s() < self.tolerance_s():  # the second chunk will be in time
            return self.release("at_once" if self._held_at is None else "forecast")
        if self._held_at is None and self._chunks:  # (the LLM may finish before the first chunk is made)
            self._held_at = self.clock()
        return []

    def tolerance_s(self) -> float:
        """The forecast lateness a first chunk plays with: ``min_hold_s`` while this is the only reply
        being made, ``busy_min_hold_s`` while others are made beside it (it counts itself)."""
        return self.min_hold_s if self.load.active <= 1 else self.busy_min_hold_s
