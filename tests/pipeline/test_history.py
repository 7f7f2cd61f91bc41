"""History bounding: long calls never outgrow the context, and what is kept is the newest."""

from __future__ import annotations

import asyncio
import itertools

from hypothesis import given
from hypothesis import strategies as st

from pipeline.history import bounded, estimate_tokens
from pipeline.session import CallSession, SessionConfig
from pipeline.turns import TurnEnded
from tests.pipeline.phone_line import ScriptedResponder

SYSTEM = {"role": "system", "content": "You are Anna, a phone secretary."}


def conversation(n: int, size: int = 200, lang: str = "en") -> list[dict[str, str]]:
    word = "word " if lang == "en" else "слово "
    out = [SYSTEM]
    for i in range(n):
        out.append({"role": "user", "content": f"question {i} " + word * (size // len(word))})
        out.append({"role": "assistant", "content": f"answer {i} " + word * (size // len(word))})
    out.append({"role": "user", "content": "and the last question?"})
    return out


def test_short_history_is_untouched():
    history = conversation(3)
    assert bounded(history, 1536) == history


def test_long_history_keeps_the_newest_whole_exchanges():
    for lang in ("en", "ru"):
        history = conversation(300, lang=lang)
        kept = bounded(history, 1536)
        assert estimate_tokens(kept) <= 1536
        assert kept[0] == SYSTEM and kept[1]["role"] == "user" and kept[-1] == history[-1]
        assert kept[1:] == history[len(history) - len(kept) + 1 :]  # a suffix: the newest turns
        roles = [m["role"] for m in kept[1:]]
        assert all(a != b for a, b in itertools.pairwise(roles))  # still alternating


def test_one_huge_question_is_cut_to_its_end():
    huge = [SYSTEM, {"role": "user", "content": "blah " * 10000 + "so what are your hours?"}]
    kept = bounded(huge, 512)
    assert estimate_tokens(kept) <= 512 + 16 and kept[-1]["content"].endswith("so what are your hours?")


@given(st.lists(st.text(min_size=0, max_size=400), min_size=1, max_size=60), st.integers(64, 4096))
def test_bounded_never_fails_and_always_keeps_system_and_last(texts, budget):
    history = [SYSTEM] + [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(texts)]
    kept = bounded(history, budget)
    assert kept[0] == SYSTEM and kept[-1]["content"] in history[-1]["content"]


class Fixed:
    async def transcribe(self, pcm, rate, language):
        return "What time do you close today?"


class Silent:
    async def speak(self, text, rate, slack_s=0.0):
        yield b"\x00" * 320


async def test_a_long_call_keeps_asking_within_the_context():
    llm = ScriptedResponder(["We close at six."] * 3, token_delay_s=0.0)
    session = CallSession(Fixed(), llm, Silent(), SessionConfig(history_max_tokens=1000))
    for i in range(400):  # an hour of conversation already behind us
        session.history += [
            {"role": "user", "content": f"question {i} " + "x" * 150},
            {"role": "assistant", "content": f"answer {i} " + "y" * 150},
        ]
    turn = TurnEnded(b"\x00" * 3200, 8000, 1.0, 1.2, 1.8, "silence")
    await asyncio.wait_for(session._respond(turn, 0.0), 10)
    sent = llm.calls[-1]
    assert estimate_tokens(sent) <= 1000 and sent[-1]["content"] == "What time do you close today?"
    assert sent[0]["role"] == "system" and "answer 399" in sent[-2]["content"]
    assert session.history[-1] == {"role": "assistant", "content": "We close at six."}
