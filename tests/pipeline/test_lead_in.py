"""A voice's silent lead-in is cut where the caller waits for it, and kept between chunks."""

from __future__ import annotations

import numpy as np

from pipeline.frames import trim_lead_in
from pipeline.session import CallSession, SessionConfig
from tests.pipeline.phone_line import RATE, PhoneLine, ScriptedResponder, Utterance, say

LEAD_S, TONE_S = 0.1, 0.3


def tone(seconds: float, level: int = 8000) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return (level * np.cos(2 * np.pi * 440 * t)).astype("<i2")  # loud from its first sample


def test_the_lead_in_is_cut_to_a_short_pre_roll():
    pcm = np.zeros(800, "<i2").tobytes() + tone(0.2).tobytes()  # 100 ms of silence, then sound
    out = trim_lead_in(pcm, RATE, keep_ms=20)
    assert len(out) == len(pcm) - 2 * (800 - 160)  # 20 ms (160 samples) of the silence kept
    assert trim_lead_in(out, RATE, keep_ms=20) == out  # nothing more to cut


def test_audio_without_an_onset_is_left_alone():
    quiet = (np.ones(800, "<i2") * 150).tobytes()  # below the threshold throughout
    assert trim_lead_in(quiet, RATE) == quiet
    assert trim_lead_in(b"", RATE) == b""
    loud = tone(0.1).tobytes()
    assert trim_lead_in(loud, RATE) == loud


class ToneSynthesizer:
    """Every chunk is 100 ms of silence and then 300 ms of tone: a VITS voice's shape."""

    async def speak(self, text: str, sample_rate: int, slack_s: float = 0.0):
        yield np.zeros(round(LEAD_S * sample_rate), "<i2").tobytes() + tone(TONE_S).tobytes()


class FixedTranscriber:
    async def transcribe(self, pcm: bytes, sample_rate: int, language: str | None) -> str:
        return "When do you open?"


async def test_a_reply_starts_with_its_sound_and_keeps_the_pause_between_its_chunks():
    session = CallSession(
        FixedTranscriber(),
        ScriptedResponder(["We open at nine. We close at six."]),
        ToneSynthesizer(),
        SessionConfig(greeting="Hello.", recording_notice=""),
    )
    session.start()
    line = PhoneLine(session, [Utterance(1.0, say("When do you open?"))])
    await line.run(6.0)
    await session.close()
    assert [t.speaker for t in session.record.turns] == ["assistant", "caller", "assistant"]
    assert session.record.turns[2].text == "We open at nine. We close at six."
    loud = "".join("L" if np.abs(np.frombuffer(pcm, "<i2")).max() > 200 else "q" for _, pcm in line.played)
    frames_lead, frames_tone = round(LEAD_S * 50), round(TONE_S * 50)
    # The greeting and the reply's first chunk: one 20 ms frame of pre-roll, then the sound.
    # The reply's second chunk keeps its whole lead-in: a pause between two sentences.
    assert loud == ("q" + "L" * frames_tone) * 2 + "q" * frames_lead + "L" * frames_tone, loud
