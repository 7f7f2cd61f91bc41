"""The session tells the TTS how much of the reply the caller still has to hear before each chunk."""

from __future__ import annotations

import numpy as np

from pipeline.session import CallSession, SessionConfig
from tests.pipeline.phone_line import PhoneLine, ScriptedResponder, Utterance, say


class SlackRecordingSynthesizer:
    """One second of tone a chunk; notes the slack each chunk was asked with."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, float]] = []

    async def speak(self, text: str, sample_rate: int, slack_s: float = 0.0):
        self.asked.append((text, slack_s))
        t = np.arange(sample_rate) / sample_rate
        yield (8000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()


class FixedTranscriber:
    async def transcribe(self, pcm: bytes, sample_rate: int, language: str | None) -> str:
        return "When do you open?"


async def test_the_first_chunk_is_needed_now_and_later_ones_after_the_audio_queued_before_them():
    voice = SlackRecordingSynthesizer()
    session = CallSession(
        FixedTranscriber(),
        ScriptedResponder(["We open at nine tomorrow morning. We close at six. Parking is free."], token_delay_s=0.01),
        voice,
        SessionConfig(greeting="Hello.", recording_notice="", playout_hold=False),
        lines=None,
    )
    session.start()
    await PhoneLine(session, [Utterance(1.5, say("When do you open?"))]).run(6.0)
    await session.close()
    assert voice.asked[0] == ("Hello.", 0.0)  # a line: needed now
    reply = voice.asked[1:]
    assert [text for text, _ in reply] == ["We open at nine tomorrow morning.", "We close at six.", "Parking is free."]
    assert reply[0][1] == 0.0  # the first words: needed now
    # Each later chunk is asked for while the previous one's second of audio waits to be played.
    assert all(0.5 <= slack <= 2.0 for _, slack in reply[1:]), reply
