"""Before the conversation: a blocked number is declined, a stranger asked who they are, a
returning caller welcomed by name with their last message in the persona's prompt."""

from __future__ import annotations

import pytest

from infra.database import upgrade
from messages.desk import MessageDesk
from messages.outbox import Outbox
from screening.front_door import FrontDoor
from screening.lists import ScreeningLists
from screening.robocall import robocall_reason
from telephony.call_store import CallStore

GREETING, PROMPT = "Hello, this is Anna.", "You are Anna."


@pytest.fixture
async def db(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'screening.db'}"
    await upgrade(url)
    return url


async def test_a_stranger_is_asked_and_an_app_without_a_number_is_not(db):
    plan = await FrontDoor(db).plan("+79161234567", "en", GREETING, PROMPT)
    assert not plan.blocked and not plan.known
    assert plan.session["greeting"] == "Hello, this is Anna. May I have your name and the reason for your call?"
    assert "take a message" in plan.session["system_prompt"]
    ru = await FrontDoor(db).plan(None, "ru", "Здравствуйте!", PROMPT)  # a hidden number is a stranger too
    assert ru.session["greeting"].startswith("Здравствуйте! Представьтесь")
    app = await FrontDoor(db).plan(None, "en", GREETING, PROMPT, ask_strangers=False)
    assert "greeting" not in app.session


async def test_lists_decide_first_and_belong_to_their_tenant(db):
    await ScreeningLists(db, "tenant-a").put("+79161234567", "block")
    await ScreeningLists(db, "tenant-a").put("+79035550000", "allow")
    blocked = await FrontDoor(db, "tenant-a").plan("8 916 123-45-67", "en", GREETING, PROMPT)
    assert (
        blocked.blocked and blocked.session["decline_line"].startswith("Sorry") and blocked.session["record_audio"] is False
    )
    allowed = await FrontDoor(db, "tenant-a").plan("+79035550000", "en", GREETING, PROMPT)
    assert allowed.known and "greeting" not in allowed.session
    assert not (await FrontDoor(db, "tenant-b").plan("+79161234567", "en", GREETING, PROMPT)).blocked


async def test_a_returning_caller_is_welcomed_by_name_with_their_last_message(db):
    store = CallStore(db, "tenant-a")
    call_id = await store.call_started("inbound", "+79161234567", "anna")
    await store.call_answered(call_id)
    words = "My name is John Smith, please call me back at five o'clock about my crown."
    await store.call_ended(call_id, "caller_goodbye", [{"speaker": "caller", "text": words}])
    await MessageDesk(Outbox({}, db), url=db).process_calls()
    plan = await FrontDoor(db, "tenant-a").plan("+7 916 123 45 67", "en", GREETING, PROMPT)
    assert plan.known and plan.session["greeting"] == "Hello, this is Anna. Nice to hear from you again, John Smith."
    assert "John Smith, has called before" in plan.session["system_prompt"] and "crown" in plan.session["system_prompt"]
    assert (await FrontDoor(db, "tenant-b").plan("+79161234567", "en", GREETING, PROMPT)).known is False


async def test_with_the_database_away_the_call_is_answered_as_before(tmp_path):
    plan = await FrontDoor(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'x.db'}").plan("+7916", "en", GREETING, PROMPT)
    assert not plan.blocked and "greeting" not in plan.session and "take a message" in plan.session["system_prompt"]


def test_robocalls_are_told_by_how_the_call_went():
    assert robocall_reason("one_way_speech", [{"speaker": "caller", "text": "..."}]).startswith("one-way speech")
    assert robocall_reason("silence_timeout", [{"speaker": "assistant", "text": "Hello?"}]) == "no answer to the greeting"
    assert robocall_reason("silence_timeout", [{"speaker": "caller", "text": "hi"}]) is None  # a person who went quiet
    assert robocall_reason("caller_goodbye", []) is None
