"""Fixed lines are synthesised once per process and replayed; the apology survives a dead TTS."""

from __future__ import annotations

import contextlib
import zlib

import numpy as np
import pytest

from pipeline.line_audio import LineAudioCache
from pipeline.session import CallSession, SessionConfig
from tests.pipeline.phone_line import RATE, PhoneLine, ScriptedResponder, Utterance, say


def line_tone(text: str, seconds: float = 0.4) -> bytes:
    """Audio that says which text it is: a tone whose pitch comes from the text."""
    freq = 300 + zlib.crc32(text.encode()) % 700
    t = np.arange(round(seconds * RATE)) / RATE
    return (8000 * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()


class CountingSynthesizer:
    """A voice that counts what it was asked to say, in two pieces a line; it can be taken down."""

    def __init__(self, voice: str = "joe", cacheable: bool = True) -> None:
        self.voice, self.asked, self.down = voice, [], False
        if cacheable:
            self.line_cache_key = ("test", voice)

    async def speak(self, text: str, sample_rate: int, slack_s: float = 0.0):
        self.asked.append(text)
        if self.down:
            raise ConnectionError("the TTS replica is gone")
        pcm = line_tone(text)
        yield pcm[: len(pcm) // 2]
        yield pcm[len(pcm) // 2 :]


async def collect(gen) -> bytes:
    return b"".join([chunk async for chunk in gen])


async def test_a_line_is_synthesised_once_and_replayed_whole():
    cache, voice = LineAudioCache(), CountingSynthesizer()
    first = await collect(cache.speak(voice, "Hello.", RATE))
    again = await collect(cache.speak(voice, "Hello.", RATE))
    assert first == again == line_tone("Hello.")
    assert voice.asked == ["Hello."]
    await collect(cache.speak(voice, "Hello.", 16000))  # another rate is other audio
    await collect(cache.speak(CountingSynthesizer("anna-ru"), "Hello.", RATE))  # and another voice
    assert len(cache) == 3


async def test_a_synthesizer_that_does_not_say_what_its_audio_depends_on_is_not_cached():
    cache, voice = LineAudioCache(), CountingSynthesizer(cacheable=False)
    for _ in range(2):
        assert await collect(cache.speak(voice, "Hello.", RATE)) == line_tone("Hello.")
    assert voice.asked == ["Hello.", "Hello."]
    assert len(cache) == 0
    assert await cache.warm(voice, "Sorry.", RATE) is False


async def test_a_line_cut_off_or_failed_is_not_kept():
    cache, voice = LineAudioCache(), CountingSynthesizer()
    gen = cache.speak(voice, "Hello.", RATE)
    await anext(gen)  # a barge-in stops the greeting after its first piece
    await gen.aclose()
    assert len(cache) == 0
    voice.down = True
    with pytest.raises(ConnectionError):
        await collect(cache.speak(voice, "Hello.", RATE))
    assert len(cache) == 0
    voice.down = False
    assert await collect(cache.speak(voice, "Hello.", RATE)) == line_tone("Hello.")  # whole: kept now
    assert len(cache) == 1


async def test_the_cache_is_bounded_in_bytes_and_forgets_the_least_recently_used():
    size = len(line_tone("x"))
    cache, voice = LineAudioCache(max_bytes=2 * size), CountingSynthesizer()
    for text in ("one", "two"):
        await collect(cache.speak(voice, text, RATE))
    await collect(cache.speak(voice, "one", RATE))  # "one" is used again: "two" is the oldest now
    await collect(cache.speak(voice, "three", RATE))
    assert cache.get(voice, "one", RATE) is not None and cache.get(voice, "three", RATE) is not None
    assert cache.get(voice, "two", RATE) is None
    cache.put(voice, "huge", RATE, (b"\0" * (3 * size),))  # larger than the whole cache: not kept
    assert cache.get(voice, "huge", RATE) is None and len(cache) == 2


async def test_lines_expire_so_a_redeployed_voice_is_heard():
    now = [0.0]
    cache, voice = LineAudioCache(max_age_s=60, clock=lambda: now[0]), CountingSynthesizer()
    await collect(cache.speak(voice, "Hello.", RATE))
    now[0] = 59
    await collect(cache.speak(voice, "Hello.", RATE))
    now[0] = 121
    await collect(cache.speak(voice, "Hello.", RATE))
    assert voice.asked == ["Hello.", "Hello."]


class FixedTranscriber:
    async def transcribe(self, pcm: bytes, sample_rate: int, language: str | None) -> str:
        return "When do you open?"


def config() -> SessionConfig:
    return SessionConfig(
        greeting="Hello, this is Anna.",
        recording_notice="This call is recorded.",
        apology="Sorry, please call back later.",
        echo_guard=False,
    )


async def run_call(voice, cache: LineAudioCache, seconds: float, script=()) -> tuple[CallSession, PhoneLine]:
    session = CallSession(FixedTranscriber(), ScriptedResponder(["We open at nine."]), voice, config(), lines=cache)
    session.start()
    line = PhoneLine(session, list(script))
    await line.run(seconds)
    with contextlib.suppress(Exception):
        await session.close()
    return session, line


async def test_the_second_call_hears_the_same_greeting_without_a_synthesis():
    cache, voice = LineAudioCache(), CountingSynthesizer()
    greeting = "Hello, this is Anna. This call is recorded."
    _, first = await run_call(voice, cache, 1.0)
    assert voice.asked == [greeting, "Sorry, please call back later."]  # the apology, made ahead
    _, second = await run_call(voice, cache, 1.0)
    assert voice.asked == [greeting, "Sorry, please call back later."]  # nothing new
    assert second.played_between(0, 1.0) == first.played_between(0, 1.0)
    assert np.abs(np.frombuffer(second.played_between(0, 0.3), "<i2")).max() > 1000  # heard at once


async def test_a_call_whose_tts_dies_still_hears_the_apology_and_goes_on():
    cache, voice = LineAudioCache(), CountingSynthesizer()
    await run_call(voice, cache, 1.0)  # an earlier call: greeting and apology are kept
    voice.down = True  # the TTS replica dies
    session, line = await run_call(voice, cache, 5.0, [Utterance(1.2, say("When do you open?"))])
    spoken = [t.text for t in session.record.turns if t.speaker == "assistant"]
    assert spoken[0] == "Hello, this is Anna. This call is recorded."
    assert spoken[-1] == "Sorry, please call back later."
    apology = line_tone("Sorry, please call back later.")
    assert apology[:3200] in b"".join(pcm for t, pcm in line.played if t > 1.2)
    assert session.record.end_reason != "service_error"  # the apology was said; the call went on


async def test_a_greeting_written_for_one_call_is_said_but_not_kept():
    cache, voice = LineAudioCache(), CountingSynthesizer()
    session = CallSession(
        FixedTranscriber(),
        ScriptedResponder([]),
        voice,
        SessionConfig(
            greeting="Hello Ivan, your appointment is at ten.", recording_notice="", keep_greeting=False, echo_guard=False
        ),
        lines=cache,
    )
    session.start()
    line = PhoneLine(session)
    await line.run(1.0)
    await session.close()
    assert voice.asked[0] == "Hello Ivan, your appointment is at ten."
    assert line_tone("Hello Ivan, your appointment is at ten.")[3200:6400] in line.played_between(0, 1.0)
    assert cache.get(voice, "Hello Ivan, your appointment is at ten.", RATE) is None
