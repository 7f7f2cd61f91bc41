"""The plan's minutes in a call: a scripted allowance (billing's gate stands behind it in production)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from infra.audio import pcm16_to_float, resample
from pipeline.frames import AudioFrame
from pipeline.session import CallSession, SessionConfig
from pipeline.turns import TurnEnded
from tests.pipeline.phone_line import PhoneLine, ScriptedResponder, Utterance, say

NOTICE = "Sorry, this line has no minutes left this month. Goodbye."
LONG_REPLY = (
    "Our clinic is open from nine in the morning until six in the evening, Monday to Friday. "
    "On Saturdays we open at ten and close at two. We are closed on Sundays and public holidays."
)


class ScriptedAllowance:
    def __init__(self, admit: bool = True, slices_granted: int = 10**6, slice_s: float = 2.0, broken: bool = False) -> None:
        self.slice_s, self._admit, self.left, self.broken = slice_s, admit, slices_granted, broken
        self.asked: list[float] = []
        self.settled: list[float] = []

    async def admit(self) -> bool:
        if self.broken:
            raise ConnectionError("redis is away")
        return self._admit

    async def extend(self, elapsed_s: float) -> bool:
        if self.broken:
            raise ConnectionError("redis is away")
        self.asked.append(elapsed_s)
        self.left -= 1
        return self.left >= 0

    async def settle(self, elapsed_s: float) -> None:
        self.settled.append(elapsed_s)


def config() -> SessionConfig:
    return SessionConfig(greeting="Hello, this is Anna.", recording_notice="This call is recorded.", limit_notice=NOTICE)


def heard(stt_engine, pcm: bytes) -> str:
    audio = resample(pcm16_to_float(pcm), 8000, 16000).astype(np.float32)
    return stt_engine.transcribe(audio, language="en").text.lower()


async def test_no_minutes_left_the_caller_hears_the_notice_instead_of_the_greeting(transcriber, synthesizer, stt_engine):
    allowance = ScriptedAllowance(admit=False)
    llm = ScriptedResponder([])
    session = CallSession(transcriber, llm, synthesizer, config(), allowance=allowance)
    session.start()
    line = PhoneLine(session, [Utterance(4.0, say("Hello, I would like to book an appointment."))])
    await line.run(15.0)
    assert session.ended.is_set() and session.record.end_reason == "usage_limit"
    assert [t.text for t in session.record.turns] == [NOTICE]
    text = heard(stt_engine, line.played_between(0, 15))
    assert "minutes" in text and "anna" not in text
    assert llm.calls == []
    await session.close()
    assert allowance.settled == [line.t]  # the call's whole length is counted once it closes


async def test_a_turn_ending_just_as_the_notice_runs_out_is_never_answered(transcriber, synthesizer):
    """On the modem the caller's audio (push) and ours (next_frame) run on separate tasks, so a
    turn can end in the tick after the notice's last frame left, before the session noticed the
    queue ran dry and ended the call. Nothing more may be said then: the call is ending."""
    allowance = ScriptedAllowance(admit=False)
    llm = ScriptedResponder(["I see."])
    session = CallSession(transcriber, llm, synthesizer, config(), allowance=allowance)
    session.start()
    silence = AudioFrame(b"\x00" * 320, 8000)
    for _ in range(1500):  # until the notice's last frame has been taken
        await session.push(silence)
        session.next_frame()
        if session.record.turns and not session.playing:
            break
        await asyncio.sleep(0.005)
    assert not session.playing and not session.ended.is_set()
    utterance = say("Hello, I would like to book a table.")
    session._on_turn(TurnEnded(utterance, 8000, 1.0, 3.0, 3.6, "silence"))  # the detector's event, in that tick
    await asyncio.sleep(0.5)
    assert session.next_frame() is None and session.ended.is_set()
    assert llm.calls == []
    assert [t.text for t in session.record.turns] == [NOTICE]
    await session.close()


async def test_minutes_running_out_mid_reply_stop_playback_and_end_with_the_notice(transcriber, synthesizer, stt_engine):
    allowance = ScriptedAllowance(slices_granted=3, slice_s=2.0)  # 6 s granted; the 8 s slice is refused
    llm = ScriptedResponder([LONG_REPLY], token_delay_s=0.15)
    session = CallSession(transcriber, llm, synthesizer, config(), allowance=allowance)
    session.start()
    line = PhoneLine(session, [Utterance(3.5, say("What are your opening hours?"))])  # after the greeting
    await line.run(30.0)
    assert session.ended.is_set() and session.record.end_reason == "usage_limit"
    assert allowance.asked == pytest.approx([2.0, 4.0, 6.0, 8.0], abs=0.03)  # never asked again once refused
    assert session.record.barge_ins == 0
    said = [t for t in session.record.turns if t.speaker == "assistant"]
    assert said[-1].text == NOTICE
    assert said[-2].interrupted and said[-2].text != LONG_REPLY.strip()  # the reply was cut where it was
    assert llm.cancelled == 1
    assert "minutes" in heard(stt_engine, line.played_between(8.0, 30.0))
    assert "saturdays" not in heard(stt_engine, line.played_between(8.0, 30.0))


async def test_metering_failing_never_cuts_a_caller_off(transcriber, synthesizer):
    allowance = ScriptedAllowance(broken=True, slice_s=1.0)
    session = CallSession(transcriber, ScriptedResponder([]), synthesizer, config(), allowance=allowance)
    session.start()
    line = PhoneLine(session, [])
    await line.run(5.0)
    assert not session.ended.is_set()
    assert session.record.turns[0].text.startswith("Hello, this is Anna.")
    await session.close("client_hangup")
    assert session.record.end_reason == "client_hangup" and allowance.settled == [line.t]
