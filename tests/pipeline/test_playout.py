"""When a reply starts playing: at once when it is made faster than real time, held when not."""

from __future__ import annotations

import asyncio
import contextlib

import numpy as np
import pytest

from pipeline.chunker import spoken_chars
from pipeline.frames import AudioFrame
from pipeline.playout import (
    FORECAST_ERRORS,
    REPLY_LENGTHS,
    REPLY_LOAD,
    SYNTHESIS_TIMES,
    ForecastErrors,
    PlayoutGate,
    ReplyLengths,
    ReplyLoad,
    SynthesisTimes,
)
from pipeline.session import CallSession, SessionConfig
from tests.pipeline.phone_line import PhoneLine, ScriptedResponder, Utterance, say


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


LONG = "Sure, we open at nine, and we close at six in the evening on weekdays, and at two on Saturdays."


def gate(
    clock: Clock, typical_chars: float = 100.0, errors: ForecastErrors | None = None, synthesis: SynthesisTimes | None = None
) -> PlayoutGate:
    return PlayoutGate(
        lengths=ReplyLengths(typical_chars),
        errors=errors or ForecastErrors(),
        synthesis=synthesis or SynthesisTimes(),
        clock=clock,
    )


def first_chunk(
    g: PlayoutGate, clock: Clock, text: str, started_at: float, done_at: float, audio_s: float, chars: int
) -> list:
    """The LLM has sent ``text``; the first chunk (``chars`` of it) goes to TTS at ``started_at`` and
    its ``audio_s`` of audio is complete at ``done_at``. Returns what the gate lets play."""
    g.token(text)
    clock.now = started_at
    g.chunk_started()
    clock.now = done_at
    g.audio(["f1"], audio_s)
    return g.chunk_done(chars)


def test_a_reply_made_faster_than_it_plays_starts_with_its_first_chunk():
    clock = Clock()
    g = gate(clock)
    g.token("Sure, we open at nine. We close at six in the evening.")  # the LLM is well ahead
    clock.now = 0.3
    g.chunk_started()
    clock.now = 0.6  # 1.5 s of audio synthesised in 0.3 s
    assert g.audio(["f1", "f2"], 1.5) == []  # a chunk is judged once its audio is complete
    assert g.chunk_done(22) == ["f1", "f2"]
    assert g.released
    assert g.audio(["f3"], 0.5) == ["f3"]  # and everything after it goes straight through


def test_a_reply_whose_next_chunk_would_come_late_is_held_until_it_is_ready():
    clock = Clock()
    g = gate(clock, typical_chars=100)
    # 22 characters in 2.4 s, and 0.9 s to make 1.5 s of audio: the next 50 characters would take
    # another 5 s of text and 2 s of synthesis, the audio lasts 1.5 s
    assert first_chunk(g, clock, "Sure, we open at nine.", 1.5, 2.4, 1.5, 22) == []
    assert g.shortfall_s() > 0
    clock.now = 3.0
    # All of its text now, but its audio will still be late: held on
    assert g.token(" We close at six in the evening, and on Saturdays at two.") == []
    assert g.shortfall_s() >= g.min_hold_s
    g.chunk_started()
    clock.now = 3.8
    g.audio(["f2"], 4.0)
    assert g.chunk_done(57) == ["f1", "f2"]  # the second chunk is here: play


def test_a_held_first_chunk_goes_as_soon_as_the_text_catches_up():
    clock = Clock()
    g = gate(clock, typical_chars=100)
    # A short first clause from the LLM's slow first tokens: forecast from that, the next chunk is late.
    assert first_chunk(g, clock, "I'm Anna,", 0.14, 0.23, 0.6, 9) == []
    assert g.shortfall_s() > 1.0
    clock.now = 0.30
    assert g.token(" a friendly") == []  # faster now, but still late by more than a clause's pause
    assert g.shortfall_s() >= g.min_hold_s
    clock.now = 0.40
    assert g.token(" phone secretary. How can I help you today?") == ["f1"]  # the text is there: play
    assert g.released
    assert g.token(" More.") == []  # nothing held any more


def test_text_before_the_first_chunk_is_measured_releases_nothing():
    clock = Clock()
    g = gate(clock)
    assert g.token("Hello") == []
    g.audio(["f1"], 0.5)  # audio of a chunk not yet complete
    assert g.token(" there, how are you?") == [] and g.held == ["f1"]


def test_a_slow_tts_holds_a_reply_even_when_the_text_is_all_there():
    clock = Clock()
    g = gate(clock, typical_chars=100)
    # 1.5 s of audio took 1.5 s to make: the rest (about 5 s) will take as long
    assert first_chunk(g, clock, LONG, 0.0, 1.5, 1.5, 22) == []


def test_once_the_text_is_complete_its_real_length_counts_not_the_typical_one():
    clock = Clock()
    g = gate(clock, typical_chars=400)
    # 400 characters expected at this pace: far too slow to start
    assert first_chunk(g, clock, "Yes, we do.", 1.0, 1.5, 1.0, 11) == []
    assert g.text_done() == ["f1"]  # but that was all of it


def test_the_hold_is_the_forecast_lateness_but_never_more_than_max_hold_s():
    clock = Clock()
    g = gate(clock)
    # The TTS at 0.6 s per second of audio: the next 50 characters take ~2 s.
    text = "Sure, we open at nine, and we close at six in the evening on weekdays."
    assert first_chunk(g, clock, text, 0.0, 0.9, 1.5, 22) == []
    assert 0.3 < g.hold_s() == g.shortfall_s() < 2.0
    # A lower cap: the hold stops at it.
    g.max_hold_s = 0.5
    assert g.hold_s() == 0.5


def test_when_the_hold_is_over_a_forecast_made_then_decides():
    """The timer is set from the forecast of its moment. When it is up and no text has come since
    (the LLM is busy with other calls), the second chunk is as late as ever: hold on, up to the cap."""
    clock = Clock()
    g = gate(clock)
    # 22 characters at once, then nothing; their 1.5 s of audio made in 0.4 s: the next 50
    # characters, forecast at the 46 characters a second so far, would be ~0.5 s late.
    assert first_chunk(g, clock, "Sure, we open at nine,", 0.08, 0.48, 1.5, 22) == []
    first = g.hold_s()
    assert 0.3 < first < 0.7
    clock.now += first
    assert g.hold_over() == [] and not g.released  # no text since: still late
    assert 0 < g.hold_s() <= g.max_hold_s - first
    assert g.token(" and we close at six in the evening on weekdays, and at two on Saturdays.") == ["f1"]
    assert g.released_by == "forecast"
    # Nothing comes, ever: the hold ends at the cap.
    stalled = gate(clock := Clock())
    first_chunk(stalled, clock, "Sure, we open at nine,", 0.08, 0.48, 1.5, 22)
    clock.now = 0.48 + stalled.max_hold_s
    assert stalled.hold_s() == 0.0 and stalled.hold_over() == ["f1"] and stalled.released_by == "timer"
    assert stalled.held_for_s == pytest.approx(stalled.max_hold_s)
    assert stalled.hold_over() == []  # once


def test_a_lateness_shorter_than_a_pause_between_clauses_is_not_held():
    def played(min_hold_s: float) -> list:
        clock = Clock()
        g = gate(clock)
        g.min_hold_s, g.safety = min_hold_s, 1.0
        # The TTS at 0.5 s per second of audio: the next chunk is ~0.2 s late.
        out = first_chunk(g, clock, LONG, 0.0, 0.75, 1.5, 22)
        assert 0.1 < g.shortfall_s() < 0.3
        return out

    assert played(0.3) == ["f1"]
    assert played(0.0) == []


def test_a_small_lateness_is_played_alone_but_held_while_other_replies_are_made():
    """With other replies made beside it, a forecast errs short: four calls ran dry 20-100 ms after
    first chunks that played with a forecast lateness under ``min_hold_s``."""

    def played(others: int) -> tuple[list, PlayoutGate]:
        clock, load = Clock(), ReplyLoad()
        g = gate(clock)
        g.safety, g.load = 1.0, load
        with contextlib.ExitStack() as making:
            for _ in range(1 + others):  # this reply, and the others
                making.enter_context(load.making())
            # The TTS at 0.45 s per second of audio: the next chunk (3.4 s) is ~0.05 s late.
            out = first_chunk(g, clock, LONG, 0.0, 0.68, 1.5, 22)
            assert 0.0 < g.shortfall_s() < g.min_hold_s
            return out, g

    assert played(0)[0] == ["f1"]
    out, g = played(3)
    assert out == [] and 0.0 < g.hold_s() < 0.1


def test_reply_load_counts_a_reply_until_it_ends_however_it_ends():
    load = ReplyLoad()
    with load.making(), load.making():
        assert load.active == 2
    with pytest.raises(RuntimeError), load.making():
        raise RuntimeError("the LLM failed")
    assert load.active == 0


def test_a_number_is_forecast_as_long_as_it_is_said():
    """ "at 1-800-299-9299." is 18 characters and five seconds of speech: counted as letters, its
    audio and synthesis were forecast at a third of that, and the reply ran dry before it."""

    def production(reply: str) -> float:
        clock = Clock()
        g = gate(clock)
        g.safety = 1.0
        first_chunk(g, clock, reply, 0.0, 0.1, 0.6, spoken_chars("Call us,"))
        g.text_done()
        return g.production_s()

    number, words = production("Call us, at 1-800-299-9299."), production("Call us, at the front desk.")
    assert len("Call us, at 1-800-299-9299.") == len("Call us, at the front desk.")
    assert number > 2 * words


def test_the_gate_says_how_long_it_held_and_what_let_the_reply_play():
    clock = Clock()
    g = gate(clock)
    g.token("Sure, we open at nine. We close at six in the evening.")
    assert first_chunk(g, clock, "", 0.3, 0.6, 1.5, 22) == ["f1"]
    assert (g.released_by, g.held_for_s) == ("at_once", 0.0)
    late = gate(clock := Clock())
    assert first_chunk(late, clock, "Hello", 0.0, 0.4, 0.5, 5) == []  # slow text, slow TTS: held
    clock.now = 0.65
    assert late.release("timer") == ["f1"] and late.released_by == "timer"
    assert late.held_for_s == pytest.approx(0.25)
    assert late.release("end") == [] and late.released_by == "timer"  # the first reason stays
    # A short reply written whole before its only chunk is made: played at once, never held.
    short = gate(clock := Clock())
    short.token("I'm here.")
    assert short.text_done() == []
    assert first_chunk(short, clock, "", 0.1, 0.4, 0.8, 9) == ["f1"]
    assert (short.released_by, short.held_for_s) == ("at_once", 0.0)


def test_nothing_is_released_before_a_chunk_is_measured():
    g = gate(Clock())
    g.token("Hello")
    assert g.shortfall_s() == float("inf") and g.text_done() == []


def test_release_hands_over_what_is_held_once():
    g = gate(Clock())
    g.audio(["f1", "f2"], 0.04)
    assert g.release() == ["f1", "f2"]
    assert g.release() == []


def test_reply_lengths_move_towards_what_replies_are():
    lengths = ReplyLengths(100.0, weight=0.5)
    lengths.observe(40)
    assert lengths.typical_chars == 70.0
    lengths.observe(0)  # an empty reply says nothing about length
    assert lengths.typical_chars == 70.0


class SlowResponder(ScriptedResponder):
    """Words that come slower than they are spoken: an LLM starved of CPU."""

    async def reply(self, messages):
        self.calls.append(messages)
        for word in "Our clinic opens at nine, and we close at six in the evening on weekdays.".split():
            await asyncio.sleep(0.25)
            yield word + " "


async def one_answer(transcriber, responder, synthesizer, asked_at_s: float = 1.5, **config) -> CallSession:
    """A call that asks one question and hears one answer; ``config``: the session's settings."""
    session = CallSession(
        transcriber,
        responder,
        synthesizer,
        SessionConfig(greeting="Hello.", recording_notice="", silence_prompt_s=30.0, **config),
    )
    session.start()
    line = PhoneLine(session, [Utterance(asked_at_s, say("When do you open?"))])
    await line.run(14.0)
    await session.close()
    assert [t.speaker for t in session.record.turns] == ["assistant", "caller", "assistant"], session.record.turns
    return session


async def run_call(transcriber, synthesizer, hold: bool) -> CallSession:
    return await one_answer(transcriber, SlowResponder([]), synthesizer, playout_hold=hold)


async def test_a_held_reply_has_much_less_silence_inside_than_when_played_at_once(transcriber, synthesizer, monkeypatch):
    monkeypatch.setattr(REPLY_LENGTHS, "typical_chars", 100.0)  # other tests' replies teach it too
    immediate = await run_call(transcriber, synthesizer, hold=False)
    assert immediate.record.reply_gap_ms >= 500  # the first clause runs dry while the rest is made
    held = await run_call(transcriber, synthesizer, hold=True)
    # The forecast is made from one chunk on a busy machine: most of the silence, not always all
    # of it, moves to before the reply.
    assert held.record.reply_gap_ms <= immediate.record.reply_gap_ms / 2, (held.record, immediate.record)
    caller = next(t for t in held.record.turns if t.speaker == "caller")
    first = next(t for t in immediate.record.turns if t.speaker == "caller")
    # It waited for more of the reply: its first frame left later than when played at once.
    assert caller.timings_ms["first_frame"] > first.timings_ms["first_frame"]
    answer, unheld = held.record.turns[-1], immediate.record.turns[-1]
    assert answer.hold_ms > 0 and answer.hold_end in ("forecast", "second_chunk", "timer"), answer
    assert (unheld.hold_ms, unheld.hold_end) == (0, None)  # no gate


class FixedTranscriber:
    async def transcribe(self, pcm: bytes, sample_rate: int, language: str | None) -> str:
        return "When do you open?"


class StallingStartResponder(ScriptedResponder):
    """The LLM's start on a busy machine: the first clause slowly, a stall, then the rest fast."""

    REST = "we are open until six tonight and all day tomorrow from nine in the morning."  # one chunk

    async def reply(self, messages):
        self.calls.append(messages)
        for word, delay in [
            ("Good ", 0.0),
            ("afternoon, ", 0.4),
            *((w + " ", 0.6 if i == 0 else 0.01) for i, w in enumerate(self.REST.split())),
        ]:
            await asyncio.sleep(delay)
            yield word


class PacedToneSynthesizer:
    """60 ms of audio per character, made at 10 ms per character: a TTS at a sixth of real time."""

    async def speak(self, text: str, sample_rate: int, slack_s: float = 0.0):
        await asyncio.sleep(0.01 * len(text))
        t = np.arange(round(0.06 * len(text) * sample_rate)) / sample_rate
        yield (8000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()


async def test_a_first_chunk_held_on_a_slow_start_plays_once_the_rest_streams(monkeypatch):
    """Forecast from the slow start, "Good afternoon," would wait for the whole second chunk
    (about 1.3 s); each new piece of text forecasts again, and it goes once the rest is flowing."""
    monkeypatch.setattr(REPLY_LENGTHS, "typical_chars", 100.0)
    session = CallSession(
        FixedTranscriber(),
        StallingStartResponder([]),
        PacedToneSynthesizer(),
        SessionConfig(greeting="Hello.", recording_notice="", silence_prompt_s=30.0),
    )
    session.start()
    line = PhoneLine(session, [Utterance(1.0, say("When do you open?"))])
    await line.run(9.0)
    await session.close()
    assert [t.speaker for t in session.record.turns] == ["assistant", "caller", "assistant"], session.record.turns
    caller, reply = session.record.turns[1], session.record.turns[2]
    assert reply.text == f"Good afternoon, {StallingStartResponder.REST}"
    held_s = (caller.timings_ms["first_frame"] - caller.timings_ms["first_audio"]) / 1000
    # Held (the stall made the next chunk late), but not until the second chunk was made (~1.3 s).
    assert 0.2 < held_s < 0.9, caller.timings_ms
    assert reply.gap_ms == 0, session.record  # and the second chunk was still in time


async def test_what_the_gate_releases_for_a_reply_being_cancelled_is_dropped():
    """A barge-in drains the queue and cancels the reply; the gate's hold timer or LLM reader may
    release its held first chunk before that cancellation reaches the reply's task."""
    session = CallSession(
        FixedTranscriber(),
        ScriptedResponder([]),
        PacedToneSynthesizer(),
        SessionConfig(greeting="Hello.", recording_notice=""),
    )
    frame = AudioFrame(b"\x10\x00" * 160, 8000)
    reply = asyncio.get_running_loop().create_task(asyncio.sleep(10))
    await asyncio.sleep(0)
    session._emit_released([frame], None, reply)
    assert session._out.qsize() == 1  # a live reply's frames play
    session._out.get_nowait()
    reply.cancel()  # the barge-in: asked, not yet delivered
    session._emit_released([frame], None, reply)
    assert session._out.empty()
    with contextlib.suppress(asyncio.CancelledError):
        await reply


def test_a_second_chunk_forecast_barely_in_time_is_held_a_little():
    """The forecast production time is scaled by ``safety``: with four calls, second chunks
    forecast just in time came 20-200 ms late (BENCHMARKS.md, "Chunks that grow")."""

    def play(safety: float) -> tuple[list, PlayoutGate]:
        clock = Clock()
        g = gate(clock)
        g.safety = safety
        g.token("x" * 60)  # the whole reply: 60 characters, 20 in the first chunk
        assert g.text_done() == []  # nothing measured yet
        g.chunk_started()
        clock.now = 0.485  # 1 s of audio in 0.485 s: the other 40 characters take 0.97 s
        g.audio(["f1"], 1.0)
        return g.chunk_done(20), g

    assert play(1.0)[0] == ["f1"]  # 30 ms to spare: played at once
    out, g = play(1.15)
    assert out == [] and 0.1 < g.hold_s() < 0.13


def test_forecast_errors_set_the_safety_from_the_latest_replies():
    errors = ForecastErrors(window=4)
    assert errors.safety() == 1.0
    errors.observe(1.0, 1.3)
    errors.observe(0.05, 5.0)  # too short a forecast to say anything
    errors.observe(1.0, 1.1)
    assert errors.safety() == 1.0  # not yet three replies
    errors.observe(2.0, 1.0)
    assert errors.safety() == pytest.approx(1.3)  # the worst of the latest
    for _ in range(4):
        errors.observe(1.0, 0.2)
    assert errors.safety() == errors.low  # forecasts that erred long, within bounds
    for _ in range(3):
        errors.observe(0.5, 5.0)
    assert errors.safety() == errors.high


def test_a_gate_learns_how_its_forecasts_turned_out():
    """The second chunk took twice its forecast: the next replies' forecasts are doubled."""
    errors = ForecastErrors()
    for _ in range(3):
        clock = Clock()
        g = gate(clock, errors=errors)
        g.token("x" * 60)
        g.text_done()  # the whole reply: the second chunk is its other 40 characters
        assert first_chunk(g, clock, "", 0.0, 0.25, 1.0, 20) == ["f1"]  # forecast 0.5 s: in time
        assert g.production_s() == pytest.approx(0.5)
        clock.now += 0.75
        g.audio(["f2"], 2.0)
        g.chunk_done(40)
    assert errors.safety() == pytest.approx(1.5)
    fresh, learned = gate(Clock()), gate(Clock(), errors=errors)
    for g in (fresh, learned):
        first_chunk(g, g.clock, "x" * 60, 0.0, 0.3, 1.0, 20)
    assert learned.shortfall_s() > fresh.shortfall_s()


def test_the_process_wide_errors_start_fresh_in_each_test():
    assert not FORECAST_ERRORS.ratios and PlayoutGate().errors is FORECAST_ERRORS
    assert not SYNTHESIS_TIMES.samples and PlayoutGate().synthesis is SYNTHESIS_TIMES


def test_synthesis_times_fit_a_fixed_cost_and_a_pace():
    times = SynthesisTimes()
    for audio in (0.7, 2.5, 1.2, 4.0, 0.9, 3.1, 1.8, 2.2):
        assert times.model() is None or len(times.samples) >= times.min_samples
        times.observe(audio, 0.05 + 0.04 * audio)
    fixed, pace = times.model()
    assert fixed == pytest.approx(0.05) and pace == pytest.approx(0.04)
    times.observe(0.0, 1.0)  # no audio: nothing learned
    assert len(times.samples) == 8


def test_synthesis_times_need_enough_different_chunks():
    alike = SynthesisTimes()
    for _ in range(10):
        alike.observe(1.0, 0.1)
    assert alike.model() is None  # every chunk the same length: no slope to tell
    few = SynthesisTimes()
    for audio in (0.5, 3.0, 5.0):
        few.observe(audio, 0.1 * audio)
    assert few.model() is None
    odd = SynthesisTimes()  # times that fall with length (noise): no negative pace, a fixed cost within reason
    for audio, took in ((0.5, 0.4), (1.0, 0.35), (2.0, 0.3), (3.0, 0.25)) * 2:
        odd.observe(audio, took)
    fixed, pace = odd.model()
    assert pace == 0.0 and 0.0 <= fixed <= 0.25


def test_a_short_first_chunk_does_not_make_the_next_one_look_slow():
    """Mostly fixed cost: "I'm Anna," took 0.14 s for 0.7 s of audio, but 60 more characters are not
    0.2 s per second of their audio. With the fitted cost the reply plays at once; scaled by audio alone it waits."""
    times = SynthesisTimes()
    for audio in (0.7, 2.5, 1.2, 4.0, 0.9, 3.1, 1.8, 2.2):
        times.observe(audio, 0.08 + 0.05 * audio)
    fitted, alone = Clock(), Clock()
    for clock, synthesis in ((fitted, times), (alone, SynthesisTimes())):
        g = gate(clock, synthesis=synthesis)
        g.chunk_chars = 60
        g.token("I'm Anna, a friendly phone secretary, working in a busy office today.")  # text is ahead
        assert first_chunk(g, clock, "", 0.2, 0.34, 0.7, 9) == ([] if synthesis is not times else ["f1"])
    # the next chunk's synthesis, as forecast: fixed + pace x its audio, scaled by how this reply's
    # own chunk fared against the model (here it took longer: a loaded TTS)
    g = gate(Clock(), synthesis=times)
    first_chunk(g, g.clock, "x" * 200, 0.0, 0.2, 1.0, 10)
    assert times.samples[-1] == (1.0, pytest.approx(0.2))  # each chunk teaches the model
    fixed, pace = times.model()
    assert g.production_s() == pytest.approx((fixed + pace * 5.0) * 0.2 / (fixed + pace * 1.0))  # 50 characters


class SlowTailResponder(ScriptedResponder):
    """Two short sentences at once, then a long one a word every 0.25 s: the LLM slowed by other calls."""

    HEAD = ("Our clinic opens at nine. ", "We close at six. ")
    TAIL = "On Saturdays we open at ten in the morning and close at two in the afternoon for lunch."

    async def reply(self, messages):
        self.calls.append(messages)
        for piece in self.HEAD:
            yield piece
        for word in self.TAIL.split():
            await asyncio.sleep(0.25)
            yield word + " "


async def slow_tail_call(low_water_s: float | None) -> CallSession:
    return await one_answer(FixedTranscriber(), SlowTailResponder([]), PacedToneSynthesizer(), 1.0, low_water_s=low_water_s)


async def test_a_reply_running_low_speaks_the_text_it_has_instead_of_waiting_for_the_sentence(monkeypatch):
    """Waiting for the long sentence's end (or its bound) leaves the caller in silence while it is
    written; cutting at its best boundary each time the queued audio runs low keeps it playing."""
    monkeypatch.setattr(REPLY_LENGTHS, "typical_chars", 100.0)
    waiting, cutting = await slow_tail_call(None), await slow_tail_call(0.3)
    text = " ".join([*(h.strip() for h in SlowTailResponder.HEAD), SlowTailResponder.TAIL])
    assert waiting.record.turns[-1].text.split() == cutting.record.turns[-1].text.split() == text.split()
    assert waiting.record.turns[-1].forced_cuts == 0 and waiting.record.reply_gap_ms >= 400, waiting.record
    reply = cutting.record.turns[-1]
    assert reply.forced_cuts >= 1, reply
    assert cutting.record.reply_gap_ms <= waiting.record.reply_gap_ms / 2, (cutting.record, waiting.record)


class LoadWatchingResponder(ScriptedResponder):
    """Notes how many replies the process is making while it writes, and that its own is one."""

    seen: list[int]

    async def reply(self, messages):
        self.seen = getattr(self, "seen", [])
        async for piece in super().reply(messages):
            self.seen.append(REPLY_LOAD.active)
            yield piece


async def test_a_reply_counts_as_load_while_it_is_made_and_not_after():
    responder = LoadWatchingResponder(["We open at nine, and we close at six."])
    before = REPLY_LOAD.active
    await one_answer(FixedTranscriber(), responder, PacedToneSynthesizer(), 1.0)
    assert responder.seen and set(responder.seen) == {before + 1}
    assert REPLY_LOAD.active == before
