"""Sentences are synthesised one at a time, the one whose listener runs dry first first."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from deployments.errors import InvalidRequestError
from deployments.tts.engine import TextToSpeechEngine, VoiceInfo
from deployments.tts.scheduling import DeadlineScheduler
from deployments.tts.service import SpeechService


async def test_waiting_steps_start_earliest_deadline_first_and_ties_in_arrival_order():
    scheduler, started = DeadlineScheduler(), []
    gate = asyncio.Event()

    async def step(name: str, deadline: float, hold: asyncio.Event | None = None) -> None:
        async with scheduler.slot(deadline):
            started.append(name)
            if hold is not None:
                await hold.wait()

    first = asyncio.create_task(step("running", 0.0, gate))
    await asyncio.sleep(0)
    waiters = [asyncio.create_task(step(n, d)) for n, d in [("late", 3.0), ("soon", 1.0), ("tie-a", 2.0), ("tie-b", 2.0)]]
    await asyncio.sleep(0)
    assert scheduler.waiting == 4
    gate.set()
    await asyncio.gather(first, *waiters)
    assert started == ["running", "soon", "tie-a", "tie-b", "late"]
    assert scheduler.waiting == 0
    async with scheduler.slot(0.0):  # everything was given back
        pass


async def test_a_cancelled_waiter_neither_runs_nor_loses_the_slot():
    scheduler, started = DeadlineScheduler(), []
    gate = asyncio.Event()

    async def step(name: str, deadline: float) -> None:
        async with scheduler.slot(deadline):
            started.append(name)
            await gate.wait()

    holder = asyncio.create_task(step("holder", 0.0))
    await asyncio.sleep(0)
    doomed = asyncio.create_task(step("doomed", 0.5))
    after = asyncio.create_task(step("after", 1.0))
    await asyncio.sleep(0)
    doomed.cancel()
    gate.set()
    await asyncio.gather(holder, after)
    with pytest.raises(asyncio.CancelledError):
        await doomed
    assert started == ["holder", "after"]


async def test_the_slot_is_held_until_a_cancelled_callers_thread_is_done():
    scheduler = DeadlineScheduler()
    in_thread, release, finished = threading.Event(), threading.Event(), []

    def work() -> str:
        in_thread.set()
        release.wait(5)
        finished.append("thread")
        return "done"

    running = asyncio.create_task(scheduler.run(0.0, work))
    await asyncio.to_thread(in_thread.wait, 5)
    running.cancel()
    nxt = asyncio.create_task(scheduler.run(1.0, lambda: finished.append("next")))
    await asyncio.sleep(0.05)
    assert finished == []  # the thread still uses the cores: the next step waits for it
    release.set()
    await nxt
    with pytest.raises(asyncio.CancelledError):
        await running
    assert finished == ["thread", "next"]


async def test_more_slots_run_steps_side_by_side():
    scheduler, both = DeadlineScheduler(slots=2), asyncio.Barrier(2)

    async def step() -> None:
        async with scheduler.slot(0.0):
            await asyncio.wait_for(both.wait(), 1)  # would time out if the second had to wait

    await asyncio.gather(step(), step())
    with pytest.raises(ValueError):
        DeadlineScheduler(slots=0)


class HeldToneEngine(TextToSpeechEngine):
    """0.5 s of tone per sentence, noting what it made; a sentence starting "Hold" waits for ``release``."""

    def __init__(self) -> None:
        self.made: list[str] = []
        self.holding, self.release = threading.Event(), threading.Event()

    def voices(self):
        return [VoiceInfo("tone", "en", 8000, "test")]

    def synthesize(self, text, voice, speed=1.0):
        for sentence in (s.strip() for s in text.split(".")):
            if sentence:
                if sentence.startswith("Hold"):
                    self.holding.set()
                    self.release.wait(5)
                self.made.append(sentence)
                yield (np.sin(np.arange(4000) / 8000 * 2 * np.pi * 440) * 8000).astype(np.int16)


async def test_a_caller_about_to_run_dry_goes_before_one_with_audio_to_spare():
    engine = HeldToneEngine()
    service = SpeechService(engine)

    async def speak(text: str, slack_s: float) -> None:
        async for _ in service.stream(text, "tone", 1.0, 8000, slack_s):
            pass

    busy = asyncio.create_task(speak("Hold on.", slack_s=0.0))  # the voice is busy with another call
    await asyncio.to_thread(engine.holding.wait, 5)
    relaxed = asyncio.create_task(speak("A one. A two.", slack_s=5.0))  # 5 s of its reply still to play
    await asyncio.sleep(0.05)
    urgent = asyncio.create_task(speak("B one. B two.", slack_s=0.0))  # its caller is about to run dry
    await asyncio.sleep(0.05)
    engine.release.set()
    await asyncio.gather(busy, relaxed, urgent)
    assert engine.made.index("B one") < engine.made.index("A one"), engine.made  # in arrival order: A first
    with pytest.raises(InvalidRequestError):
        await speak("Hi.", slack_s=-1.0)
