"""Framing, voice activity and end-of-turn detection on synthesised callers, silence and noise."""

from __future__ import annotations

import numpy as np
import pytest
from faster_whisper import WhisperModel
from hypothesis import given
from hypothesis import strategies as st

from infra.audio import decode_audio, float_to_pcm16, wav_bytes
from infra.settings import get_settings
from pipeline.frames import AudioFrame, Framer, frame_bytes
from pipeline.turns import (
    SpeechDiscarded,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    TurnConfig,
    TurnDetector,
    TurnEnded,
)
from pipeline.vad import VoiceActivityDetector
from tests.pipeline.phone_line import trim
from tests.speech import espeak_wav, samples_16k, wer

RATE = 8000


def pcm_of(wav: bytes, rate: int = RATE) -> bytes:
    return float_to_pcm16(decode_audio(wav, rate).samples).tobytes()


def silence(seconds: float, rate: int = RATE) -> bytes:
    return b"\x00" * (int(seconds * rate) * 2)


def noise(seconds: float, level: float, seed: int = 0, rate: int = RATE) -> bytes:
    rng = np.random.default_rng(seed)
    return float_to_pcm16(rng.normal(0, level, int(seconds * rate))).tobytes()


def run(detector: TurnDetector, pcm: bytes, rate: int = RATE) -> list:
    framer = Framer(rate)
    events = []
    for frame in framer.push(pcm):
        events += detector.push(frame)
    return events


@given(st.lists(st.integers(min_value=0, max_value=900), max_size=20))
def test_framer_any_chunking_gives_exact_frames(sizes):
    data = bytes(range(256)) * 20
    framer, out, pos = Framer(8000), b"", 0
    for size in sizes:
        out += b"".join(f.pcm for f in framer.push(data[pos : pos + size]))
        pos += size
    out += b"".join(f.pcm for f in framer.push(data[pos:]))
    tail = b"".join(f.pcm for f in framer.flush())
    assert out + tail[: len(data) - len(out)] == data
    assert len(tail) in (0, 320)


def test_frame_validation():
    assert frame_bytes(16000) == 640
    with pytest.raises(ValueError):
        AudioFrame(b"\x00" * 100, 8000)
    with pytest.raises(ValueError):
        AudioFrame(b"\x00" * 320, 44100)


@pytest.mark.parametrize("rate", [8000, 16000])
def test_vad_speech_versus_silence_hiss_and_hum(rate):
    vad = VoiceActivityDetector()
    speech = pcm_of(espeak_wav("Hello, I would like to book a table for two."), rate)
    frames = list(Framer(rate).push(speech))
    assert sum(vad.is_speech(f) for f in frames) > 0.5 * len(frames)
    t = np.arange(rate * 2) / rate
    hum = float_to_pcm16(0.3 * np.sin(2 * np.pi * 50 * t)).tobytes()
    for quiet in (silence(2, rate), noise(2, 0.003, rate=rate), hum):
        assert not any(vad.is_speech(f) for f in Framer(rate).push(quiet))


def test_one_utterance_is_one_turn_with_its_words():
    text = "I need to change my appointment to Friday."
    speech = pcm_of(espeak_wav(text))
    events = [
        e
        for e in run(TurnDetector(), silence(0.5) + speech + silence(1.5))
        if not isinstance(e, SpeechPaused | SpeechResumed)
    ]
    kinds = [type(e) for e in events]
    assert kinds == [SpeechStarted, TurnEnded]
    turn = events[1]
    assert turn.reason == "silence"
    assert 0.3 <= turn.started_s <= 0.6
    clip_end = 0.5 + len(speech) / 2 / RATE  # espeak pads its clips with some silence
    assert clip_end - 0.6 <= turn.ended_s <= clip_end + 0.05
    assert 0.55 <= turn.detected_s - turn.ended_s <= 0.7  # end_silence_ms after the last voice
    # The turn's audio is the whole utterance: it transcribes back to the words.
    model = WhisperModel(str(get_settings().models_dir / "whisper-tiny.en"), compute_type="int8")
    segs, _ = model.transcribe(samples_16k(wav_bytes(np.frombuffer(turn.audio, "<i2"), RATE)), language="en")
    assert wer(text, " ".join(s.text for s in segs)) <= 0.2


def test_silence_and_noise_make_no_turn():
    detector = TurnDetector()
    events = run(detector, silence(2) + noise(3, 0.003) + silence(1))
    assert events == []


def test_a_click_does_not_start_a_turn_and_a_short_burst_is_discarded():
    click = float_to_pcm16(np.concatenate([np.zeros(80), np.ones(80) * 0.8, np.zeros(160)])).tobytes()
    assert run(TurnDetector(), silence(0.5) + click + silence(1)) == []
    short = pcm_of(espeak_wav("Hm"))[: int(0.2 * RATE) * 2]
    events = run(TurnDetector(config=TurnConfig(min_speech_ms=400)), silence(0.5) + short + silence(1.5))
    assert not any(isinstance(e, TurnEnded) for e in events)
    assert any(isinstance(e, SpeechDiscarded) for e in events) or events == []


def test_two_utterances_are_two_turns():
    a, b = pcm_of(espeak_wav("Good morning.")), pcm_of(espeak_wav("Is the doctor in today?"))
    events = run(TurnDetector(), silence(0.3) + a + silence(1.2) + b + silence(1.2))
    turns = [e for e in events if isinstance(e, TurnEnded)]
    assert len(turns) == 2 and turns[0].ended_s < turns[1].started_s


def test_max_turn_length_cuts_a_monologue():
    long = pcm_of(espeak_wav("Let me tell you a very long story about my car and my dog and my house " * 3))
    events = run(TurnDetector(config=TurnConfig(max_turn_s=3.0)), long + silence(1))
    turns = [e for e in events if isinstance(e, TurnEnded)]
    assert turns[0].reason == "max_length"
    assert abs(turns[0].duration_s - 3.0) < 0.3


def test_a_pause_is_reported_early_and_voided_by_more_speech():
    a, b = (trim(pcm_of(espeak_wav(t))) for t in ("I would like to book", "an appointment for Friday."))
    events = run(TurnDetector(), silence(0.5) + a + silence(0.35) + b + silence(1.0))
    kinds = [type(e) for e in events]
    # a pause inside the utterance (voided), then a pause at its end (confirmed by the turn end)
    assert kinds.count(SpeechResumed) >= 1 and kinds[-2:] == [SpeechPaused, TurnEnded]
    first_pause = next(e for e in events if isinstance(e, SpeechPaused))
    resumed = next(e for e in events if isinstance(e, SpeechResumed))
    assert first_pause.detected_s <= resumed.at_s  # reported at the end of a frame, resumed in a later one
    last_pause, turn = events[-2], events[-1]
    assert last_pause.ended_s == turn.ended_s and last_pause.audio == turn.audio
    assert abs((last_pause.detected_s - last_pause.ended_s) - 0.08) < 0.03  # pause_ms after the last voice
    assert turn.detected_s - last_pause.detected_s >= 0.42


def test_pauses_can_be_switched_off():
    speech = pcm_of(espeak_wav("Good morning."))
    events = run(TurnDetector(config=TurnConfig(pause_ms=None)), silence(0.3) + speech + silence(1.0))
    assert [type(e) for e in events] == [SpeechStarted, TurnEnded]


@pytest.mark.parametrize("pause_ms", [130, 0, 600, 800])
def test_a_pause_that_could_never_be_reported_is_refused(pause_ms):
    """Silence is counted in 20 ms frames: 130 ms would silently never fire, 600 ms is the turn's end."""
    with pytest.raises(ValueError, match="pause_ms must be a positive multiple of 20"):
        TurnConfig(pause_ms=pause_ms)


def test_a_longer_pause_is_reported_later():
    speech = pcm_of(espeak_wav("Good morning."))
    events = run(TurnDetector(config=TurnConfig(pause_ms=300)), silence(0.3) + speech + silence(1.0))
    pause = [e for e in events if isinstance(e, SpeechPaused)][-1]
    assert abs((pause.detected_s - pause.ended_s) - 0.3) < 0.03


def test_a_turn_judged_on_gated_frames_keeps_the_callers_own_audio():
    """The echo guard zeroes quiet frames for the VAD; the turn's audio must stay what the caller said."""
    speech = pcm_of(espeak_wav("Sorry, what is your phone number?"))
    pcm = silence(0.5) + speech + silence(1.5)
    detector, events = TurnDetector(config=TurnConfig(pause_ms=None)), []
    for frame in Framer(RATE).push(pcm):
        x = np.frombuffer(frame.pcm, "<i2")
        quiet = np.sqrt(np.mean(x.astype(np.float64) ** 2)) < 2000
        gated = AudioFrame(b"\x00" * len(frame.pcm), RATE) if quiet else frame  # a harsh gate
        events += detector.push(frame, heard_as=gated)
    (turn,) = [e for e in events if isinstance(e, TurnEnded)]
    start = round(turn.started_s * RATE) * 2
    assert turn.audio == pcm[start : start + len(turn.audio)]  # not a zeroed frame in it
    assert np.abs(np.frombuffer(turn.audio, "<i2")).max() > 0
