"""End-of-turn detection: when has the caller started, and finished, saying something?

A per-frame state machine over VAD decisions. Speech starts after ``start_ms`` of consecutive
voiced frames (a click or a cough does not start a turn); it ends after ``end_silence_ms`` of
silence, or at ``max_turn_s``. Utterances shorter than ``min_speech_ms`` are dropped as noise.
After ``pause_ms`` of silence it reports a pause (the audio so far) so the session can start
working on a likely turn end speculatively; more speech reports a resume and voids it.
The turn's audio includes ``pre_roll_ms`` before the detected start so the first syllable is not
clipped. Timestamps are in seconds of call audio, so tests are exact and replayable.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from pipeline.frames import FRAME_MS, AudioFrame
from pipeline.vad import VoiceActivityDetector


@dataclass
class TurnConfig:
    start_ms: int = 100
    end_silence_ms: int = 600
    min_speech_ms: int = 250
    max_turn_s: float = 20.0
    pre_roll_ms: int = 200
    # Silence after which the session starts answering speculatively (None: never). 120 rather
    # than 200 ms: −113 ms voice-to-voice with one call, no cost seen with four; 80 rather than
    # 120: the transcript 63 ms sooner, paired −102 ms (BENCHMARKS.md). A pause that turns out
    # to be mid-sentence only wastes the work started on it.
    pause_ms: int | None = 80

    def __post_init__(self) -> None:
        # Silence is counted in whole frames, and a pause must come before the turn's end.
        if self.pause_ms is not None and (
            self.pause_ms <= 0 or self.pause_ms % FRAME_MS or self.pause_ms >= self.end_silence_ms
        ):
            raise ValueError(
                f"pause_ms must be a positive multiple of {FRAME_MS} below end_silence_ms "
                f"({self.end_silence_ms}), got {self.pause_ms}"
            )


@dataclass(frozen=True)
class SpeechStarted:
    at_s: float


@dataclass(frozen=True)
class TurnEnded:
    audio: bytes  # the utterance, pre-roll included, trailing silence excluded
    sample_rate: int
    started_s: float
    ended_s: float  # when the caller stopped speaking
    detected_s: float  # when we decided the turn is over
    reason: str  # "silence" or "max_length"

    @property
    def duration_s(self) -> float:
        return self.ended_s - self.started_s


@dataclass(frozen=True)
class SpeechDiscarded:
    started_s: float
    duration_s: float


@dataclass(frozen=True)
class SpeechPaused:
    """Silence for ``pause_ms`` inside an utterance: the turn may be over (or not)."""

    audio: bytes
    sample_rate: int
    started_s: float
    ended_s: float
    detected_s: float


@dataclass(frozen=True)
class SpeechResumed:
    """The caller went on after a pause: whatever was started on the paused audio is void."""

    at_s: float


TurnEvent = SpeechStarted | TurnEnded | SpeechDiscarded | SpeechPaused | SpeechResumed


class TurnDetector:
    def __init__(self, vad: VoiceActivityDetector | None = None, config: TurnConfig | None = None) -> None:
        self.vad = vad or VoiceActivityDetector()
        self.config = config or TurnConfig()
        self._t = 0.0  # audio time of the next frame
        self._pre: deque[bytes] = deque(maxlen=max(1, self.config.pre_roll_ms // FRAME_MS))
        self._voiced_run: list[bytes] = []
        self._speaking = False
        self._audio = bytearray()
        self._started = 0.0
        self._voice_start = 0.0
        self._last_voice_end = 0.0
        self._silence_ms = 0

    @property
    def speaking(self) -> bool:
        return self._speaking

    @property
    def voiced_s(self) -> float:
        """Seconds from the first voiced frame of the current utterance to its last voiced frame."""
        return max(0.0, self._last_voice_end - self._voice_start) if self._speaking else 0.0

    def utterance_audio(self) -> bytes:
        """The current utterance so far, pre-roll included (empty between utterances)."""
        return bytes(self._audio) if self._speaking else b""

    def reset(self) -> None:
        self._pre.clear()
        self._voiced_run.clear()
        self._speaking = False
        self._audio.clear()
        self._silence_ms = 0

    def push(self, frame: AudioFrame, heard_as: AudioFrame | None = None) -> list[TurnEvent]:
        """One frame. ``heard_as``, when given, is what the VAD judges instead (the echo guard's
        gated frame) while the turn keeps ``frame``, the caller's own audio: gating zeroes the
        caller's quieter syllables too, and Whisper misheard an interruption cut up that way."""
        cfg = self.config
        pcm = frame.pcm
        frame = heard_as or frame
        t0 = self._t
        self._t += FRAME_MS / 1000
        voiced = self.vad.is_speech(frame)
        events: list[TurnEvent] = []
        if not self._speaking:
            if voiced:
                self._voiced_run.append(pcm)
                if len(self._voiced_run) * FRAME_MS >= cfg.start_ms:
                    self._speaking = True
                    self._started = self._t - len(self._voiced_run) * FRAME_MS / 1000
                    self._voice_start = self._started
                    self._audio = bytearray(b"".join(self._pre) + b"".join(self._voiced_run))
                    self._started -= len(self._pre) * FRAME_MS / 1000
                    self._voiced_run.clear()
                    self._pre.clear()
                    self._silence_ms = 0
                    self._last_voice_end = self._t
                    events.append(SpeechStarted(round(self._started, 3)))
            else:
                for pcm in self._voiced_run:
                    self._pre.append(pcm)
                self._voiced_run.clear()
                self._pre.append(pcm)
            return events

        self._audio += pcm
        if voiced:
            if cfg.pause_ms is not None and self._silence_ms >= cfg.pause_ms:
                events.append(SpeechResumed(round(t0, 3)))
            self._silence_ms = 0
            self._last_voice_end = self._t
        else:
            self._silence_ms += FRAME_MS
            if cfg.pause_ms is not None and self._silence_ms == cfg.pause_ms < cfg.end_silence_ms:
                speech_s = self._last_voice_end - self._started - cfg.pre_roll_ms / 1000
                if speech_s * 1000 >= cfg.min_speech_ms:
                    trailing = int(self._silence_ms / FRAME_MS) * len(frame.pcm)
                    events.append(
                        SpeechPaused(
                            bytes(self._audio[: len(self._audio) - trailing]),
                            frame.sample_rate,
                            round(self._started, 3),
                            round(self._last_voice_end, 3),
                            round(t0 + FRAME_MS / 1000, 3),
                        )
                    )
        reason = None
        if self._silence_ms >= cfg.end_silence_ms:
            reason = "silence"
        elif self._t - self._started >= cfg.max_turn_s:
            reason = "max_length"
        if reason:
            trailing = int(self._silence_ms / FRAME_MS) * len(frame.pcm)
            audio = bytes(self._audio[: len(self._audio) - trailing] if trailing else self._audio)
            speech_s = self._last_voice_end - self._started - cfg.pre_roll_ms / 1000
            if speech_s * 1000 < cfg.min_speech_ms:
                events.append(SpeechDiscarded(round(self._started, 3), round(speech_s, 3)))
            else:
                events.append(
                    TurnEnded(
                        audio,
                        frame.sample_rate,
                        round(self._started, 3),
                        round(self._last_voice_end, 3),
                        round(t0 + FRAME_MS / 1000, 3),
                        reason,
                    )
                )
            self._speaking = False
            self._audio = bytearray()
            self._silence_ms = 0
        return events
