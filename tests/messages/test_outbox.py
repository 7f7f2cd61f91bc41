"""The outbox: once per channel through crashes, retries and concurrent workers; quiet hours;
failures that stay visible. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import select

from infra.database import session_factory, upgrade, utcnow
from infra.settings import PROJECT_ROOT
from messages.delivery_settings import ChannelsIn, DeliverySettings
from messages.models import DeliveryRow
from messages.outbox import Outbox
from telephony.call_store import CallStore
from tests.messages.desk_rig import OWNER_CHAT, OWNER_EMAIL, make_desk, owner_channels

CALLER = "+79161234567"
WORDS = "My name is John Smith, it's urgent, please call me back at five o'clock."


@pytest.fixture
async def rig(db_url):
    await upgrade(db_url)
    desk = await make_desk(db_url)
    yield desk
    desk.smtp.stop()
    desk.telegram.stop()


async def ended_call(url: str, words: str = WORDS, tenant: str | None = None) -> str:
    store = CallStore(url, tenant)
    call_id = await store.call_started("inbound", CALLER, "anna")
    await store.call_answered(call_id)
    await store.call_ended(call_id, "caller_goodbye", [{"speaker": "caller", "text": words}])
    return call_id


async def deliveries(url: str) -> dict[str, tuple[str, int]]:
    async with session_factory(url)() as s:
        return {d.channel: (d.status, d.attempts) for d in (await s.execute(select(DeliveryRow))).scalars()}


def kill_child_at(url: str, rig, point: str) -> None:
    child = subprocess.run(
        [sys.executable, "-m", "tests.messages.outbox_child", url, str(rig.smtp.port), rig.telegram.api_url, point],
        cwd=PROJECT_ROOT,
        capture_output=True,
        timeout=120,
    )
    assert child.returncode == -9, child.stderr.decode()[-2000:]


def sent_once(rig) -> bool:
    return len(rig.smtp.to(OWNER_EMAIL)) == 1 and len(rig.telegram.to(OWNER_CHAT)) == 1


async def test_killed_between_saving_and_sending_nothing_is_lost_nor_sent_twice(rig, db_url):
    await owner_channels(db_url, sms=False)
    await ended_call(db_url)
    kill_child_at(db_url, rig, "saved")
    assert rig.smtp.messages == [] and rig.telegram.sent == []
    assert await deliveries(db_url) == {"email": ("pending", 0), "telegram": ("pending", 0)}
    await rig.settle()  # the next worker finds the saved message and sends it
    assert sent_once(rig) and await deliveries(db_url) == {"email": ("sent", 1), "telegram": ("sent", 1)}
    await rig.settle()
    assert sent_once(rig)


async def test_killed_after_claiming_the_lease_runs_out_and_it_is_sent_once(rig, db_url):
    await owner_channels(db_url, sms=False)
    await ended_call(db_url)
    assert await rig.desk.process_calls() == 1
    kill_child_at(db_url, rig, "claimed")
    assert await rig.outbox.run_once() == 0  # held by the dead worker's lease
    await asyncio.sleep(1.1)
    await rig.settle()
    assert sent_once(rig) and await deliveries(db_url) == {"email": ("sent", 2), "telegram": ("sent", 2)}


async def test_a_refusing_server_is_retried_with_backoff_then_given_up_visibly(rig, db_url):
    await owner_channels(db_url, sms=False)
    rig.outbox.max_attempts = 3
    rig.smtp.refuse_next = 10
    rig.telegram.fail_next = 1
    await ended_call(db_url)
    await rig.settle()
    assert await deliveries(db_url) == {"email": ("failed", 3), "telegram": ("sent", 2)}
    assert rig.smtp.refused == 3 and rig.smtp.messages == [] and len(rig.telegram.sent) == 1
    failed = await rig.outbox.failures(None)
    assert [(f["channel"], f["status"], f["attempts"]) for f in failed] == [("email", "failed", 3)]
    assert "451" in failed[0]["last_error"]


async def test_a_wrong_bot_token_fails_at_once_without_retries(rig, db_url):
    await DeliverySettings(db_url).put(
        None, ChannelsIn(telegram_bot_token="999:AAE_this-token-telegram-does-not-know", telegram_chat_id="1")
    )
    await ended_call(db_url)
    await rig.settle()
    assert await deliveries(db_url) == {"telegram": ("failed", 1)}
    assert "Unauthorized" in (await rig.outbox.failures(None))[0]["last_error"]


async def test_concurrent_workers_send_each_delivery_once(rig, db_url):
    await owner_channels(db_url, sms=False)
    for _ in range(3):
        await ended_call(db_url)
    assert await rig.desk.process_calls() == 3
    other = Outbox(rig.outbox.channels, db_url, backoff_s=0.05)
    await asyncio.gather(rig.outbox.run_once(), other.run_once(), rig.outbox.run_once(), other.run_once())
    await rig.settle()
    assert len(rig.smtp.to(OWNER_EMAIL)) == 3 and len(rig.telegram.to(OWNER_CHAT)) == 3
    assert len({m["Message-ID"] for m in rig.smtp.messages}) == 3


async def test_quiet_hours_hold_what_can_wait_and_let_the_urgent_through(rig, db_url):
    now = utcnow()
    quiet = {
        "quiet_start": (now - timedelta(hours=1)).strftime("%H:%M"),
        "quiet_end": (now + timedelta(hours=2)).strftime("%H:%M"),
    }
    await owner_channels(db_url, sms=False, timezone="UTC", **quiet)
    await ended_call(db_url, "My name is John Smith, call me back tomorrow at ten.")
    await ended_call(db_url)  # "it's urgent"
    await rig.desk.run_once()
    await rig.desk.run_once()
    assert len(rig.smtp.messages) == 1 and "URGENT" in rig.smtp.messages[0]["Subject"]
    async with session_factory(db_url)() as s:
        held = list((await s.execute(select(DeliveryRow).where(DeliveryRow.status == "pending"))).scalars())
    assert len(held) == 2 and all(d.attempts == 0 and d.last_error == "held for quiet hours" for d in held)
    assert await rig.outbox.failures(None) == []  # waiting on purpose is not a failure
    until = held[0].next_attempt_at.replace(tzinfo=None)
    assert abs((until - (now + timedelta(hours=2)).replace(tzinfo=None, second=0, microsecond=0)).total_seconds()) < 61
