"""Underruns the caller hears: silences inside a reply are counted, silence after it is not."""

from __future__ import annotations

import asyncio

from pipeline.session import CallSession, SessionConfig
from tests.pipeline.phone_line import PhoneLine, ScriptedResponder, Utterance, say

FIRST, SECOND = "Our clinic opens at nine.", "We close at six in the evening."


class StallingResponder(ScriptedResponder):
    """Streams the first sentence, then stalls ``stall_s`` (an LLM starved of CPU), then the second; then lingers."""

    def __init__(self, stall_s: float, linger_s: float = 0.0) -> None:
        super().__init__([])
        self.stall_s, self.linger_s = stall_s, linger_s

    async def reply(self, messages):
        self.calls.append(messages)
        for word in FIRST.split():
            yield word + " "
        await asyncio.sleep(self.stall_s)
        for word in SECOND.split():
            yield word + " "
        await asyncio.sleep(self.linger_s)  # the task runs on after its last audio: not a gap


async def call(transcriber, synthesizer, responder) -> CallSession:
    session = CallSession(
        transcriber,
        responder,
        synthesizer,
        SessionConfig(greeting="Hello, this is Anna.", recording_notice="This call is recorded.", low_water_s=None),
    )  # chunks as written: the gap stays where the stall is
    session.start()
    line = PhoneLine(session, [Utterance(3.5, say("When do you open?"))])
    await line.run(14.0)
    await session.close()
    assert [t.speaker for t in session.record.turns] == ["assistant", "caller", "assistant"]
    return session


async def test_a_reply_that_stalls_mid_way_is_one_gap_of_about_the_stall(transcriber, synthesizer):
    session = await call(transcriber, synthesizer, StallingResponder(stall_s=3.5))
    # The first sentence lasts about 1.5 s, so about 2 s of the stall is heard as silence.
    assert session.record.reply_gaps == 1
    assert 1000 <= session.record.reply_gap_ms <= 3500
    # The record says where: after the first chunk (the first sentence), which the reply's chunks show.
    reply = session.record.turns[-1]
    assert reply.gap_ms == session.record.reply_gap_ms and len(reply.gaps) == 1
    ((played_ms, gap_ms),) = reply.gaps
    assert gap_ms == reply.gap_ms
    assert len(reply.chunk_ms) == 2 and all(ms > 0 for ms in reply.chunk_ms)
    assert reply.chunk_chars == [len(FIRST), len(SECOND)]
    assert abs(played_ms - reply.chunk_ms[0]) <= 40  # frames round each chunk up to 20 ms


async def test_a_reply_in_time_has_no_gap_and_lingering_work_after_it_is_not_one(transcriber, synthesizer):
    session = await call(transcriber, synthesizer, StallingResponder(stall_s=0.0, linger_s=2.0))
    assert session.record.reply_gaps == 0 and session.record.reply_gap_ms == 0
    assert session.record.turns[-1].gaps == [] and len(session.record.turns[-1].chunk_ms) == 2
