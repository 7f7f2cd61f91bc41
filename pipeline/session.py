"""One phone conversation: caller frames in, reply frames out, turn by turn.

The session is plain asyncio Python over the three service protocols, so it runs the same
behind the modem, a WebSocket or a test harness. Time is the call's audio clock (20 ms per
caller frame), which makes behaviour replayable. What it does:

- greets on answer, with the call-recording notice;
- detects the caller's turns (VAD + end of turn), transcribes, streams the LLM's reply through the
  clause chunker into TTS, and queues 20 ms frames, so the first audio leaves before the LLM ends;
- under load, holds a reply's first chunk briefly when its second would come too late to follow
  it without a silence (``pipeline/playout.py``), and once a reply plays, speaks the text it has
  (cut at its best boundary) when the queued audio runs low before the sentence ends;
- works speculatively: at the first short pause (``turn.pause_ms``) it starts transcribing and
  answering the audio so far, holding the result; the end of the turn releases it, more speech
  throws it away. The end-of-turn wait then overlaps the work instead of preceding it;
- barge-in: caller speech lasting ``barge_in_ms`` during playback drops the queued audio at once
  and cancels the in-flight LLM and TTS work; the interrupting turn is then answered;
- echo guard: while we speak, caller audio quieter than ``echo_gate_dbfs`` is treated as silence
  (the modem path has no echo cancellation);
- what an utterance means depends on when it was said (``pipeline/caller_intent.py``):
  hesitations ("um, uh uh") never get an answer; acknowledgements ("yes", "угу") said over a reply
  neither interrupt nor get one, said after it they are an answer; speech over a reply barges in
  only once its transcript shows it is more than that (or it goes on past ``barge_in_force_ms``);
- silence prompts, then a polite hang-up; a closing goodbye ends the call (not the word "пока"
  inside "подождите, пока я найду ручку"); the persona's apology when a model service fails;
- the plan's minutes (an optional ``Allowance``): a call with no minutes left hears the limit
  notice instead of the greeting, and one that uses up the last of them hears it (whatever was
  playing stops) and ends; the call's duration is counted when it closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from infra import metrics
from infra.logging import get_logger
from pipeline.caller_intent import Utterance, classify
from pipeline.chunker import ChunkerConfig, ClauseChunker, for_speech, joined, spoken_chars
from pipeline.frames import FRAME_MS, AudioFrame, Framer, trim_lead_in
from pipeline.history import bounded
from pipeline.line_audio import LINE_AUDIO, LineAudioCache
from pipeline.machine_detection import OneWaySpeech, sounds_like_voicemail
from pipeline.playout import REPLY_LENGTHS, REPLY_LOAD, PlayoutGate
from pipeline.recording import CallRecorder
from pipeline.services import Allowance, Responder, Synthesizer, Transcriber
from pipeline.turns import SpeechPaused, SpeechResumed, SpeechStarted, TurnConfig, TurnDetector, TurnEnded
from pipeline.vad import VoiceActivityDetector

log = get_logger(__name__)
STAGES = ("transcript", "first_token", "first_chunk", "first_audio", "first_frame")
STAGE_LATENCY = metrics.histogram("pipeline_stage_seconds", "End of caller speech to each stage", ("stage",))
REPLY_GAPS = metrics.counter("call_reply_gaps_total", "Silences inside a reply: the next audio was not ready in time")


@dataclass
class SessionConfig:
    sample_rate: int = 8000
    language: str | None = "en"
    system_prompt: str = "You are Anna, a friendly phone secretary. Answer in one or two short sentences."
    greeting: str = "Hello, this is Anna. How can I help you?"
    recording_notice: str = "This call is recorded."
    farewell: str = "Thank you for calling. Goodbye!"
    silence_prompt: str = "Are you still there?"
    hangup_line: str = "I can't hear you, so I will hang up now. Goodbye."
    apology: str = "Sorry, I'm having trouble right now. Please call back a little later."
    limit_notice: str = "I'm sorry, this line has used up its minutes for this month, so I have to end the call. Goodbye."
    shutdown_line: str = "I'm sorry, I have to end the call now. Please call back in a few minutes. Goodbye."
    # The greeting is the persona's, the same on every call, so its audio is kept for the next
    # one (pipeline/line_audio.py); off for a greeting written for one call (an outbound call's).
    keep_greeting: bool = True
    silence_prompt_s: float = 7.0
    max_silence_prompts: int = 2
    barge_in_ms: int = 500
    # Speech over a reply for barge_in_ms is transcribed first and barges in only if it is more
    # than a hesitation or an acknowledgement; past barge_in_force_ms it barges in regardless (the
    # caller is talking over us, whatever the transcript says). False: barge in at barge_in_ms.
    barge_in_check: bool = True
    barge_in_force_ms: int = 1500
    # Echo guard: while we speak, a caller frame counts only if it is louder than both this floor
    # and the loudest frame we played in the last echo_window_ms minus the echo return loss.
    echo_guard: bool = True  # off for clients that cancel echo themselves (browsers over WebSocket)
    echo_gate_dbfs: float = -40.0
    echo_return_loss_db: float = 12.0
    echo_window_ms: int = 300
    turn: TurnConfig = field(default_factory=TurnConfig)
    chunker: ChunkerConfig = field(default_factory=ChunkerConfig)  # how soon the first words are spoken
    # Hold a reply's first chunk while its second is forecast to come late (0.1 s or more when it is
    # the only reply being made; any lateness while others are; for that long, at most 1.5 s), so
    # that the answer does not go silent after its first clause (pipeline/playout.py); off: every
    # reply plays as soon as its audio exists.
    playout_hold: bool = True
    # Low-water mark: once a reply plays, if its queued audio would run out before the text so far
    # could be synthesised with this much to spare, that text is cut at its best boundary and
    # spoken at once instead of waiting for the sentence to end (None: never). The gate covers
    # the first chunk; this covers the rest, where four calls ran dry (BENCHMARKS.md, session 14).
    low_water_s: float | None = 0.3
    record_audio: bool = True  # keep both directions for the recording feature (consent permitting)
    # Said instead of the greeting to a screened caller (a blocked number); the call then ends.
    decline_line: str = ""
    # A recording that talks on for this long without yielding a turn ends the call as
    # ``one_way_speech`` (pipeline/machine_detection.py); None: never.
    one_way_speech_s: float | None = 40.0
    # Outbound calls: the short message left when an answering machine picks up ("" : talk on).
    voicemail_message: str = ""
    # Tokens of history sent with each request: the model's context (2048 on the CPU profile) minus
    # room for the reply. Older exchanges are dropped first; see pipeline/history.py.
    history_max_tokens: int = 1536

    @classmethod
    def from_dict(cls, d: dict | None, **over) -> SessionConfig:
        """A profile's (or persona's) ``session`` block; unknown keys are an error, not a silent no-op."""
        d = {**(d or {}), **over}
        turn, chunker = d.pop("turn", None), d.pop("chunker", None)
        config = cls(**d)
        if turn is not None:
            config.turn = turn if isinstance(turn, TurnConfig) else TurnConfig(**turn)
        if chunker is not None:
            config.chunker = chunker if isinstance(chunker, ChunkerConfig) else ChunkerConfig(**chunker)
        return config


@dataclass
class TurnRecord:
    speaker: str  # "caller" or "assistant"
    text: str
    at_s: float  # call audio time
    interrupted: bool = False
    timings_ms: dict[str, float] = field(default_factory=dict)
    ended_s: float | None = None  # caller turns: when the caller stopped speaking
    detected_s: float | None = None  # caller turns: when the end of the turn was decided
    gap_ms: int = 0  # assistant turns: silences the caller heard inside this reply (underruns)
    # assistant turns, to tell where a reply ran dry: each silence as [ms of the reply played
    # before it, its ms], each chunk's audio in ms (their running sum marks chunk boundaries)
    # and its characters (a chunk of numbers or times is spoken longer than its length says)
    gaps: list[list[int]] = field(default_factory=list)
    chunk_ms: list[int] = field(default_factory=list)
    chunk_chars: list[int] = field(default_factory=list)
    forced_cuts: int = 0  # chunks cut before their sentence ended because the audio ran low
    # assistant turns: how long the playout gate held the first chunk, and what let it play
    # (pipeline/playout.py: "at_once", "forecast", "second_chunk", "timer" or "end")
    hold_ms: int = 0
    hold_end: str | None = None


@dataclass
class CallRecord:
    call_id: str
    turns: list[TurnRecord] = field(default_factory=list)
    end_reason: str | None = None
    barge_ins: int = 0
    barge_in_at_s: list[float] = field(default_factory=list)  # call audio time of each detection
    # Underruns the caller heard: silences inside a reply, between two of its frames (20 ms each).
    reply_gaps: int = 0
    reply_gap_ms: int = 0


@dataclass
class _Speculation:
    """A reply being prepared from a paused utterance; nothing of it is visible until confirmed."""

    ended_s: float
    task: asyncio.Task | None = None
    confirmed: bool = False
    detected_s: float | None = None  # the end of the turn as decided, once confirmed
    held: list[AudioFrame] = field(default_factory=list)
    on_confirm: list[Callable[[], None]] = field(default_factory=list)
    event: asyncio.Event = field(default_factory=asyncio.Event)

    def when_live(self, fn: Callable[[], None]) -> None:
        if self.confirmed:
            fn()
        else:
            self.on_confirm.append(fn)


class CallSession:
    def __init__(
        self,
        transcriber: Transcriber,
        responder: Responder,
        synthesizer: Synthesizer,
        config: SessionConfig | None = None,
        call_id: str | None = None,
        allowance: Allowance | None = None,
        lines: LineAudioCache | None = LINE_AUDIO,
    ) -> None:
        self.stt, self.llm, self.tts = transcriber, responder, synthesizer
        self.lines = lines  # the fixed lines' audio, kept per process (None: synthesised every time)
        self.allowance = allowance
        self._extend_at = allowance.slice_s if allowance is not None else float("inf")
        self._extending: asyncio.Task | None = None
        self._warming: asyncio.Task | None = None  # the apology's audio, made ahead of need
        self.config = config or SessionConfig()
        self.record = CallRecord(call_id or uuid.uuid4().hex)
        self.detector = TurnDetector(VoiceActivityDetector(), self.config.turn)
        self.history: list[dict[str, str]] = [{"role": "system", "content": self.config.system_prompt}]
        self.ended = asyncio.Event()
        self._out: asyncio.Queue[AudioFrame] = asyncio.Queue()
        self._framer = Framer(self.config.sample_rate)
        self._task: asyncio.Task | None = None  # the reply being produced
        self._spec: _Speculation | None = None  # a reply prepared ahead of the end of the turn
        self._t = 0.0  # call audio time
        self._speech_started_at: float | None = None
        self._utterance = 0  # counts the caller's utterances, so late work knows which one it was for
        self._over_reply = False  # the current utterance began while the assistant was speaking
        self._barge_check: asyncio.Task | None = None
        self._last_activity = 0.0
        self._silence_prompts = 0
        self._ending = False
        self._was_playing = False
        self._gap_frames = 0  # reply ticks with no audio ready since the last reply frame
        self._playing_task: asyncio.Task | None = None  # the reply the last frame came from
        self._played_frames = 0  # frames played of the reply the last frame came from
        self._pending_first_frame: tuple[TurnRecord, float] | None = None
        self._played_levels: deque[float] = deque(maxlen=max(1, self.config.echo_window_ms // FRAME_MS))
        self.recorder = CallRecorder(self.config.sample_rate) if self.config.record_audio else None
        self._one_way = OneWaySpeech(self.config.one_way_speech_s)
        self._heard_callee = False  # outbound: the first turn is checked for an answering machine

    # ---- public surface ------------------------------------------------------------------------
    @property
    def playing(self) -> bool:
        return not self._out.empty() or (self._task is not None and not self._task.done())

    def start(self) -> None:
        """Answering: greet the caller, with the recording notice (or, with no minutes left, the limit notice)."""
        text = f"{self.config.greeting} {self.config.recording_notice}".strip()

        async def answer() -> None:
            if self.config.decline_line:  # screened: a polite line and goodbye, no conversation
                self._ending = True
                self.record.end_reason = "screened"
                await self._say(self.config.decline_line, keep=False)
            elif self.allowance is None or await self._allowed(self.allowance.admit()):
                await self._say(text, keep=self.config.keep_greeting)
                self._warm_apology()
            else:
                self._ending = True
                self.record.end_reason = "usage_limit"
                await self._say(self.config.limit_notice)

        self._task = asyncio.get_running_loop().create_task(answer())

    def _warm_apology(self) -> None:
        """Have the apology's audio ready before it is needed: it is said when a service fails,
        the TTS included, and a kept line plays without it (pipeline/line_audio.py)."""
        if self.lines is None:
            return

        async def warm() -> None:
            try:
                await self.lines.warm(self.tts, self.config.apology, self.config.sample_rate)
            except Exception as exc:  # the call goes on; the apology will be synthesised if needed
                log.info("pipeline.apology_not_warmed", call_id=self.record.call_id, error=type(exc).__name__)

        self._warming = asyncio.get_running_loop().create_task(warm())

    def next_frame(self) -> AudioFrame | None:
        """The next 20 ms of reply audio, or None (the line carries silence)."""
        try:
            frame = self._out.get_nowait()
        except asyncio.QueueEmpty:
            if self._was_playing and self.playing:
                self._gap_frames += 1  # a gap if more of this reply follows, trailing silence if not
            elif self._was_playing:
                self._was_playing = False
                self._gap_frames = 0
                self._last_activity = self._t
                if self._ending:
                    self._finish()
            return None
        if self._was_playing and self._gap_frames and self._task is self._playing_task:
            self.record.reply_gaps += 1
            self.record.reply_gap_ms += self._gap_frames * FRAME_MS
            REPLY_GAPS.inc()
            playing = next((t for t in reversed(self.record.turns) if t.speaker == "assistant"), None)
            if playing is not None:
                playing.gap_ms += self._gap_frames * FRAME_MS
                playing.gaps.append([self._played_frames * FRAME_MS, self._gap_frames * FRAME_MS])
        self._gap_frames = 0
        if self._task is not self._playing_task:
            self._played_frames = 0
        self._played_frames += 1
        self._playing_task = self._task  # a gap counts only inside one reply, not between two
        self._was_playing = True
        if self.recorder is not None:
            self.recorder.add_assistant(frame.pcm)
        self._played_levels.append(self.detector.vad.level_dbfs(frame))
        if self._pending_first_frame:
            turn, t0 = self._pending_first_frame
            self._stage(turn, "first_frame", t0)
            self._pending_first_frame = None
        return frame

    async def push(self, frame: AudioFrame) -> None:
        """Twenty milliseconds of caller audio."""
        self._t += FRAME_MS / 1000
        if self.ended.is_set():
            return
        if self._t >= self._extend_at and not self._ending:
            self._extend_at += self.allowance.slice_s
            if self._extending is None or self._extending.done():
                self._extending = asyncio.get_running_loop().create_task(self._extend(self._t))
        if self.recorder is not None:
            self.recorder.add_caller(frame.pcm)
        heard = frame
        if self.config.echo_guard and (self.playing or self._played_recently()):
            level = self.detector.vad.level_dbfs(frame)
            reference = max(self._played_levels, default=-120.0) - self.config.echo_return_loss_db
            if level < max(self.config.echo_gate_dbfs, reference):
                heard = AudioFrame(b"\x00" * len(frame.pcm), frame.sample_rate)  # our own voice, echoed
        if not self.playing:
            self._played_levels.append(-120.0)  # the echo reference decays once we are quiet
        for event in self.detector.push(frame, heard_as=heard):
            if isinstance(event, SpeechStarted):
                self._speech_started_at = self._t
                self._last_activity = self._t
                self._utterance += 1
                self._over_reply = self.playing
                self._barge_check = None
            elif isinstance(event, SpeechPaused):
                self._speculate(event)
            elif isinstance(event, SpeechResumed):
                self._drop_speculation()
            elif isinstance(event, TurnEnded):
                self._on_turn(event)
        if (
            self.detector.speaking
            and self.playing
            and self._speech_started_at is not None
            and self.detector.voiced_s * 1000 >= self.config.barge_in_ms
            and not self._ending
        ):
            self._maybe_barge_in()
        self._check_silence()

    async def close(self, reason: str = "hangup") -> None:
        self._drop_speculation()
        for task in (self._task, self._extending, self._warming, self._barge_check):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self.record.end_reason is None:
            self.record.end_reason = reason
        self.ended.set()
        if self.allowance is not None:
            try:
                await self.allowance.settle(self._t)
            except Exception as exc:
                log.error(
                    "pipeline.usage_not_settled",
                    call_id=self.record.call_id,
                    seconds=round(self._t, 1),
                    error=type(exc).__name__,
                )

    # ---- the plan's minutes -------------------------------------------------------------------------
    async def _allowed(self, asking) -> bool:
        """The allowance's answer; if metering itself fails the call goes on (a caller is not cut off
        for our outage) and the failure is logged."""
        try:
            return await asking
        except Exception as exc:
            log.error("pipeline.allowance_failed", call_id=self.record.call_id, error=type(exc).__name__)
            return True

    async def _extend(self, elapsed_s: float) -> None:
        if not await self._allowed(self.allowance.extend(elapsed_s)) and not self._ending:
            log.info("pipeline.usage_limit", call_id=self.record.call_id, at_s=round(self._t, 2))
            self._drop_speculation()
            self._stop_playback()
            self._end_after(self.config.limit_notice, "usage_limit")

    # ---- turns ---------------------------------------------------------------------------------
    def _played_recently(self) -> bool:
        return any(level > -120.0 for level in self._played_levels)

    def _on_turn(self, turn: TurnEnded) -> None:
        self._speech_started_at = None
        self._last_activity = self._t
        if self._one_way.turn(turn.reason, turn.duration_s) and not self._ending:
            self._drop_speculation()
            self._stop_playback()
            log.info("pipeline.one_way_speech", call_id=self.record.call_id, talked_s=round(self._one_way.talked_s, 1))
            self._end_after(self.config.hangup_line, "one_way_speech")
            return
        spec, self._spec = self._spec, None
        if self.playing or self._ending:
            if spec is not None and spec.task is not None:
                spec.task.cancel()
            # A short sound while we speak (backchannel, echo burst): no barge-in, no answer. Nor
            # once the call is ending: a turn may end in the tick after the closing line's last
            # frame left, before next_frame() finds the queue dry and ends the call.
            return
        self._silence_prompts = 0
        if spec is not None and spec.task is not None and spec.ended_s == turn.ended_s and not spec.task.cancelled():
            self._task = spec.task  # the speculation heard exactly this turn: release it
            spec.confirmed = True
            spec.detected_s = turn.detected_s
            for fn in spec.on_confirm:
                fn()
            for frame in spec.held:
                self._out.put_nowait(frame)
            spec.held.clear()
            spec.event.set()
            return
        if spec is not None and spec.task is not None:
            spec.task.cancel()
            self._framer.clear()
        t0 = time.monotonic() - max(0.0, turn.detected_s - turn.ended_s)  # the caller's end of speech
        self._task = asyncio.get_running_loop().create_task(self._respond(turn, t0, over_reply=self._over_reply))

    def _speculate(self, pause: SpeechPaused) -> None:
        if self.playing or self._ending or self._spec is not None:
            return
        spec = _Speculation(pause.ended_s)
        t0 = time.monotonic() - max(0.0, pause.detected_s - pause.ended_s)
        spec.task = asyncio.get_running_loop().create_task(self._respond(pause, t0, spec, self._over_reply))
        self._spec = spec

    def _drop_speculation(self) -> None:
        spec, self._spec = self._spec, None
        if spec is not None and spec.task is not None and not spec.confirmed:
            spec.task.cancel()
            self._framer.clear()

    def _stop_playback(self) -> int:
        """Drop the queued reply audio and cancel the work producing it; returns the frames dropped."""
        dropped = self._out.qsize()
        while not self._out.empty():
            self._out.get_nowait()
        self._framer.clear()
        if self._task and not self._task.done():
            self._task.cancel()
        for t in reversed(self.record.turns):
            if t.speaker == "assistant":
                t.interrupted = True
                break
        return dropped

    def _maybe_barge_in(self) -> None:
        """Speech over the reply: barge in, or first make sure it is more than "uh-huh"."""
        cfg = self.config
        if not cfg.barge_in_check or self.detector.voiced_s * 1000 >= cfg.barge_in_force_ms:
            if self._barge_check is not None:
                self._barge_check.cancel()
            self._barge_in()
        elif self._barge_check is None:
            self._barge_check = asyncio.get_running_loop().create_task(
                self._check_barge_in(self.detector.utterance_audio(), self._utterance)
            )

    async def _check_barge_in(self, audio: bytes, utterance: int) -> None:
        """Transcribe the speech so far; barge in unless it is a hesitation or an acknowledgement."""
        try:
            text = await self.stt.transcribe(audio, self.config.sample_rate, self.config.language)
            kind = classify(text, assistant_speaking=True)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # no transcript: the caller is talking over us, so stop talking
            log.info("pipeline.barge_in_check_failed", call_id=self.record.call_id, error=type(exc).__name__)
            kind = Utterance.TURN
        if (
            kind not in (Utterance.NOTHING, Utterance.BACKCHANNEL)
            and utterance == self._utterance
            and self._speech_started_at is not None
            and self.playing
            and not self._ending
        ):
            self._barge_in()

    def _barge_in(self) -> None:
        dropped = self._stop_playback()
        self.record.barge_ins += 1
        self.record.barge_in_at_s.append(round(self._t, 3))
        self._speech_started_at = None  # one barge-in per caller utterance
        self._over_reply = False  # what interrupted is a turn of its own, "yes, but…" included
        self._was_playing = False
        self._gap_frames = 0
        self._pending_first_frame = None
        log.info("pipeline.barge_in", call_id=self.record.call_id, dropped_frames=dropped, at_s=round(self._t, 2))

    def _check_silence(self) -> None:
        cfg = self.config
        if self.playing or self.detector.speaking or self._ending:
            return
        if self._t - self._last_activity < cfg.silence_prompt_s:
            return
        self._last_activity = self._t
        if self._silence_prompts < cfg.max_silence_prompts:
            self._silence_prompts += 1
            self._task = asyncio.get_running_loop().create_task(self._say(cfg.silence_prompt))
        else:
            self._end_after(cfg.hangup_line, "silence_timeout")

    def end_politely(self, reason: str = "shutdown") -> None:
        """End the call now, in words: whatever is being said stops, the shutdown line is said, and
        the call ends when it has been played (a line draining for a shutdown or a redeploy)."""
        if self._ending or self.ended.is_set():
            return
        self._drop_speculation()
        self._stop_playback()
        self._end_after(self.config.shutdown_line, reason)

    def _end_after(self, text: str, reason: str) -> None:
        self._ending = True
        self.record.end_reason = reason
        self._task = asyncio.get_running_loop().create_task(self._say(text))

    def _finish(self) -> None:
        self.ended.set()
        log.info("pipeline.call_ended", call_id=self.record.call_id, reason=self.record.end_reason)

    # ---- producing speech -----------------------------------------------------------------------
    def _stage(self, turn: TurnRecord, stage: str, t0: float) -> None:
        if stage not in turn.timings_ms:
            elapsed = time.monotonic() - t0
            turn.timings_ms[stage] = round(elapsed * 1000, 1)
            if any(t is turn for t in self.record.turns):  # speculative work counts once it is released
                STAGE_LATENCY.observe(elapsed, stage=stage)

    def _commit_turn(self, turn: TurnRecord) -> None:
        self.record.turns.append(turn)
        for stage, ms in turn.timings_ms.items():
            STAGE_LATENCY.observe(ms / 1000, stage=stage)

    def _emit(self, frame: AudioFrame, spec: _Speculation | None) -> None:
        if spec is not None and not spec.confirmed:
            spec.held.append(frame)
        else:
            self._out.put_nowait(frame)

    async def _speak_chunk(
        self,
        text: str,
        turn: TurnRecord | None = None,
        t0: float = 0.0,
        spec: _Speculation | None = None,
        gate: PlayoutGate | None = None,
        opens: bool = True,
        line: bool = False,
    ) -> int:
        """Synthesise one chunk into frames, and return how many ms of audio it made; ``opens``: it
        starts what the caller hears (a line, or a reply's first chunk), so the voice's silent
        lead-in is cut (``trim_lead_in``); ``line``: a fixed line, replayed from ``self.lines``
        when it has been said before."""
        bytes_per_s = 2 * self.config.sample_rate
        if gate is not None:
            gate.chunk_started()
        if line and self.lines is not None:
            audio = self.lines.speak(self.tts, text, self.config.sample_rate)
        elif opens:
            audio = self.tts.speak(text, self.config.sample_rate)
        else:
            audio = self.tts.speak(text, self.config.sample_rate, self._queued_s(gate, spec))
        made = 0
        async for pcm in audio:
            if turn is not None:
                self._stage(turn, "first_audio", t0)
            if opens:
                pcm, opens = trim_lead_in(pcm, self.config.sample_rate), False
            made += len(pcm)
            frames = list(self._framer.push(pcm))
            for frame in gate.audio(frames, len(pcm) / bytes_per_s) if gate is not None else frames:
                self._emit(frame, spec)
        frames = list(self._framer.flush())
        if gate is not None:
            frames = gate.audio(frames, 0.0) + gate.chunk_done(spoken_chars(text))
        self._emit_all(frames, spec)
        if gate is not None and not gate.released and gate.timer is None:
            # Held: it plays when the next chunk is ready or when the forecast hold is over.
            self._hold(gate, spec, asyncio.current_task())
        return round(made * 1000 / bytes_per_s)

    def _hold(self, gate: PlayoutGate, spec: _Speculation | None, reply: asyncio.Task | None) -> None:
        """Time the held first chunk's hold: when it is over, the gate forecasts again and either
        lets the chunk play or says how much longer (at least a frame, so a forecast a hair late
        does not spin)."""

        def over() -> None:
            gate.timer = None
            frames = gate.hold_over()
            if gate.released:
                self._emit_released(frames, spec, reply)
            else:
                self._hold(gate, spec, reply)

        gate.timer = asyncio.get_running_loop().call_later(max(gate.hold_s(), FRAME_MS / 1000), over)

    def _running_low(self, gate: PlayoutGate | None, spec: _Speculation | None, pending: str) -> bool:
        """A playing reply's queued audio would run out before the text waiting for its sentence's
        end could be synthesised, with ``low_water_s`` to spare (not while the gate holds it, or
        the turn it answers may still go on: nothing is playing then)."""
        if (
            self.config.low_water_s is None
            or gate is None
            or not gate.released
            or not pending
            or (spec is not None and not spec.confirmed)
        ):
            return False
        return self._queued_s(gate, spec) < gate.synthesis_s(spoken_chars(pending)) + self.config.low_water_s

    def _queued_s(self, gate: PlayoutGate | None, spec: _Speculation | None) -> float:
        """Seconds of this reply's audio made and not yet played: what the caller hears before
        the next chunk is needed (held frames play before it too, once released)."""
        frames = self._out.qsize() + (len(gate.held) if gate is not None else 0)
        if spec is not None and not spec.confirmed:
            frames += len(spec.held)
        return frames * FRAME_MS / 1000

    def _emit_all(self, frames: list[AudioFrame], spec: _Speculation | None) -> None:
        for frame in frames:
            self._emit(frame, spec)

    def _emit_released(self, frames: list[AudioFrame], spec: _Speculation | None, reply: asyncio.Task | None) -> None:
        """Frames the playout gate lets go from outside the reply's task (its hold timer, its LLM
        reader): dropped if a barge-in or hang-up is cancelling that reply, whose queue was drained
        and which has not yet stopped the gate itself."""
        if frames and not (reply is not None and reply.cancelling()):
            self._emit_all(frames, spec)

    async def _say(self, text: str, keep: bool = True) -> None:
        """Say a fixed line; ``keep``: its audio is kept for later calls (not for one-off text)."""
        turn = TurnRecord("assistant", text, round(self._t, 2))
        self.record.turns.append(turn)
        try:
            await self._speak_chunk(text, line=keep)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("pipeline.tts_failed", call_id=self.record.call_id, error=type(exc).__name__)
            if self._ending or text == self.config.apology:
                self.record.end_reason = self.record.end_reason or "service_error"
                self._finish()
        if self._ending and self._out.empty():
            self._finish()

    async def _respond(
        self, turn_audio: TurnEnded | SpeechPaused, t0: float, spec: _Speculation | None = None, over_reply: bool = False
    ) -> None:
        """Answer one caller turn. With ``spec`` it runs ahead of the end of the turn: what it
        records and says is held by the speculation and only appears once it is confirmed.
        ``over_reply``: the caller began it while the assistant was speaking."""
        live = spec.when_live if spec is not None else (lambda fn: fn())
        try:
            text = (await self.stt.transcribe(turn_audio.audio, turn_audio.sample_rate, self.config.language)).strip()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if spec is not None and not spec.confirmed:
                await spec.event.wait()  # only a confirmed turn may apologise
            return await self._apologise(exc)
        if self.config.voicemail_message and not self._heard_callee and text:
            if spec is not None and not spec.confirmed:
                await spec.event.wait()  # judged on the whole first turn, not on its first clause
            self._heard_callee = True
            if sounds_like_voicemail(text, getattr(turn_audio, "reason", "")):
                self.record.turns.append(TurnRecord("caller", text, turn_audio.started_s, ended_s=turn_audio.ended_s))
                self._end_after(self.config.voicemail_message, "voicemail")
                return
        kind = classify(text, assistant_speaking=over_reply)
        if kind in (Utterance.NOTHING, Utterance.BACKCHANNEL):
            return  # silence, noise, a hesitation, or "uh-huh" said over the reply: no turn at all
        caller = TurnRecord(
            "caller", text, turn_audio.started_s, ended_s=turn_audio.ended_s, detected_s=turn_audio.detected_s
        )
        self._stage(caller, "transcript", t0)

        def commit_caller() -> None:
            if spec is not None and spec.detected_s is not None:
                caller.detected_s = spec.detected_s  # the turn's end as decided, not the pause
            self._commit_turn(caller)

        live(commit_caller)
        if kind is Utterance.GOODBYE:
            if spec is not None and not spec.confirmed:
                await spec.event.wait()
            self._end_after(self.config.farewell, "caller_goodbye")
            return
        user = {"role": "user", "content": text}
        history = [*self.history, user]
        live(lambda: self.history.append(user))
        reply = TurnRecord("assistant", "", round(self._t, 2))

        def start_reply() -> None:
            reply.at_s = round(self._t, 2)
            self.record.turns.append(reply)
            self._pending_first_frame = (caller, t0)

        live(start_reply)
        chunker, spoken = ClauseChunker(self.config.chunker), []
        gate = PlayoutGate() if self.config.playout_hold else None

        async def speak(chunk: str) -> None:
            self._stage(caller, "first_chunk", t0)
            reply.chunk_ms.append(await self._speak_chunk(for_speech(chunk), caller, t0, spec, gate, opens=not spoken))
            reply.chunk_chars.append(len(chunk))
            spoken.append(chunk)
            reply.text = joined(spoken)

        with REPLY_LOAD.making():  # other calls' gates see this reply's load
            try:
                async with contextlib.aclosing(
                    self._read_ahead(bounded(history, self.config.history_max_tokens), gate, spec)
                ) as deltas:
                    async for delta in deltas:
                        self._stage(caller, "first_token", t0)
                        for chunk in chunker.push(delta):
                            if gate is not None:  # the second chunk's size: at most the bound, then exact
                                gate.chunk_chars = spoken_chars(chunk) if len(spoken) == 1 else chunker.next_max_chars
                            await speak(chunk)
                        if spoken and self._running_low(gate, spec, chunker.pending_text) and (chunk := chunker.cut_now()):
                            reply.forced_cuts += 1
                            await speak(chunk)
                if gate is not None:
                    self._emit_all(gate.text_done(), spec)
                for chunk in chunker.flush():
                    await speak(chunk)
                if gate is not None:
                    self._emit_all(gate.release(), spec)  # the whole reply is ready
                    REPLY_LENGTHS.observe(spoken_chars(reply.text))
            except asyncio.CancelledError:
                if gate is not None:
                    gate.cancel_timer()  # what is held is dropped with the reply
                reply.interrupted = True
                if spoken and (spec is None or spec.confirmed):
                    self.history.append({"role": "assistant", "content": joined(spoken)})
                raise
            except Exception as exc:
                if gate is not None:
                    self._emit_all(gate.release(), spec)  # what was made is still said, then the apology
                if spec is not None and not spec.confirmed:
                    await spec.event.wait()
                return await self._apologise(exc)
            finally:
                if gate is not None and gate.released:  # a reply cut short by a hang-up too
                    reply.hold_ms, reply.hold_end = round(gate.held_for_s * 1000), gate.released_by
        if spec is not None and not spec.confirmed:
            await spec.event.wait()  # the whole reply is ready before the caller's turn has ended
        self.history.append({"role": "assistant", "content": reply.text})

    async def _read_ahead(
        self, messages: list[dict[str, str]], gate: PlayoutGate | None, spec: _Speculation | None
    ) -> AsyncIterator[str]:
        """The LLM's text, read by a task of its own: it keeps arriving while a chunk is synthesised,
        so the next chunk is cut as soon as its text is complete and the gate sees the LLM's real pace.
        Closing this generator (a barge-in, a hang-up) cancels the LLM stream."""
        queue: asyncio.Queue[str | BaseException | None] = asyncio.Queue()
        reply = asyncio.current_task()  # the reply's task, which this generator runs in

        async def pump() -> None:
            try:
                async for delta in self.llm.reply(messages):
                    if gate is not None:
                        self._emit_released(gate.token(delta), spec, reply)  # a held first chunk may go now
                    queue.put_nowait(delta)
            except Exception as exc:
                queue.put_nowait(exc)
                return
            queue.put_nowait(None)

        task = asyncio.get_running_loop().create_task(pump())
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _apologise(self, exc: Exception) -> None:
        log.warning("pipeline.service_failed", call_id=self.record.call_id, error=type(exc).__name__)
        await self._say(self.config.apology)
