"""Turns that mean something, with real synthesised callers in English and Russian over real Whisper.

- "yes" after the assistant asked something is answered; said over a reply it is not;
- "Um, uh uh" over a reply neither interrupts it nor is answered afterwards;
- "Подождите, пока я найду ручку" does not end the call; "Спасибо, до свидания" does.
"""

from __future__ import annotations

from infra.audio import decode_audio, float_to_pcm16
from pipeline.caller_intent import ACKNOWLEDGEMENTS, HESITATIONS, words
from pipeline.session import CallSession, SessionConfig
from tests.local_engines import EngineTranscriber
from tests.pipeline.phone_line import RATE, PhoneLine, ScriptedResponder, Utterance, say
from tests.speech import festival_ru_wav

LONG_REPLY = (
    "Our clinic is open from nine in the morning until six in the evening, Monday to Friday. "
    "On Saturdays we open at ten and close at two. We are closed on Sundays and public holidays."
)


def config(**over) -> SessionConfig:
    base = dict(greeting="Hi.", recording_notice="", silence_prompt_s=6.0)
    return SessionConfig(**{**base, **over})


def say_ru(text: str) -> bytes:
    return float_to_pcm16(decode_audio(festival_ru_wav(text), RATE).samples * 0.9).tobytes()


def callers(session: CallSession) -> list[str]:
    return [t.text for t in session.record.turns if t.speaker == "caller"]


def asked(llm: ScriptedResponder) -> list[set[str]]:
    """The words of each caller message the LLM was asked to answer (speculative work included:
    the session may start answering at a short pause, so counting calls would be fragile)."""
    return [set(words(call[-1]["content"])) for call in llm.calls]


async def test_yes_after_a_question_is_answered(transcriber, synthesizer):
    llm = ScriptedResponder(["Are you a new patient?", "Then I will book you in."])
    session = CallSession(transcriber, llm, synthesizer, config())
    session.start()
    line = PhoneLine(session, [Utterance(1.5, say("I would like to book an appointment.")), Utterance(7.0, say("Yes."))])
    await line.run(12.0)
    assert len(asked(llm)) >= 2 and {"yes", "yeah"} & asked(llm)[-1], callers(session)  # the "yes" was answered


async def test_a_hesitation_over_a_reply_neither_interrupts_nor_is_answered(transcriber, synthesizer):
    llm = ScriptedResponder([LONG_REPLY], token_delay_s=0.05)
    session = CallSession(transcriber, llm, synthesizer, config())
    session.start()
    hesitation = say("Um, uh uh.")
    assert len(hesitation) / (2 * RATE) > 0.6  # long enough to reach barge_in_ms (500 ms of voice)
    line = PhoneLine(session, [Utterance(1.5, say("What are your opening hours?")), Utterance(6.0, hesitation)])
    await line.run(20.0)
    assert session.record.barge_ins == 0
    assert not any(t.interrupted for t in session.record.turns)
    # Nothing was answered after the reply ended: no LLM request carried the hesitation.
    assert not any(a & HESITATIONS for a in asked(llm)), callers(session)


async def test_yes_over_a_reply_is_a_backchannel(transcriber, synthesizer):
    llm = ScriptedResponder([LONG_REPLY], token_delay_s=0.05)
    session = CallSession(transcriber, llm, synthesizer, config())
    session.start()
    line = PhoneLine(session, [Utterance(1.5, say("What are your opening hours?")), Utterance(6.0, say("Yes, okay."))])
    await line.run(20.0)
    assert session.record.barge_ins == 0, callers(session)
    assert not any(a & ACKNOWLEDGEMENTS for a in asked(llm)), callers(session)


async def test_a_real_interruption_still_barges_in(transcriber, synthesizer):
    llm = ScriptedResponder([LONG_REPLY, "The number is five five five."], token_delay_s=0.2)
    session = CallSession(transcriber, llm, synthesizer, config())
    session.start()
    line = PhoneLine(
        session,
        [Utterance(1.5, say("What are your opening hours?")), Utterance(6.0, say("Sorry, what is your phone number?"))],
    )
    await line.run(16.0)
    assert session.record.barge_ins == 1
    assert {"phone", "number"} & asked(llm)[-1], callers(session)  # the interruption got its own answer
    (detected,) = session.record.barge_in_at_s
    # barge_in_ms of voice, then the transcript of it: still well under a second after the caller began
    assert 6.5 <= detected <= 7.4


async def test_russian_wait_while_i_find_a_pen_does_not_end_the_call(multilingual_stt_engine, synthesizer):
    llm = ScriptedResponder(["Конечно, я подожду."])
    session = CallSession(EngineTranscriber(multilingual_stt_engine), llm, synthesizer, config(language="ru"))
    session.start()
    line = PhoneLine(session, [Utterance(1.5, say_ru("Подождите, пока я найду ручку."))])
    await line.run(9.0)
    assert session.record.end_reason != "caller_goodbye" and not session.ended.is_set(), callers(session)
    # It was answered (work may also have started speculatively at the pause after "Подождите,").
    assert llm.calls and "пока" in llm.calls[-1][-1]["content"].lower(), llm.calls
    assert any("пока" in text.lower() for text in callers(session))


async def test_russian_goodbye_ends_the_call(multilingual_stt_engine, synthesizer):
    llm = ScriptedResponder([])
    session = CallSession(EngineTranscriber(multilingual_stt_engine), llm, synthesizer, config(language="ru"))
    session.start()
    line = PhoneLine(session, [Utterance(1.5, say_ru("Спасибо, до свидания."))])
    await line.run(10.0)
    assert session.record.end_reason == "caller_goodbye", callers(session)
    # Work started speculatively at the pause after "Спасибо," may have asked the LLM; nothing of
    # it was said: the caller heard the greeting and the farewell only.
    said = [t.text for t in session.record.turns if t.speaker == "assistant"]
    assert said == ["Hi.", session.config.farewell], said
