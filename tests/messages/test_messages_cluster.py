"""Messages on the real cluster: a caller on the simulated modem (English) and one on the
WebSocket (Russian) each leave a message; the admin app's desk takes it with the persona's model
(guided JSON) and the owner gets it once by e-mail (the first attempt refused), on Telegram and
by SMS through the modem."""

from __future__ import annotations

import asyncio
import secrets
import time
from urllib.parse import quote

import httpx
import pytest

from infra.audio import decode_audio, float_to_pcm16
from tests.cluster_modem import known_calls, wait_for_call_end
from tests.deployments.ingress.test_call_russian import call as ws_call
from tests.fake_telegram import TOKEN as BOT_TOKEN
from tests.speech import festival_ru_wav

pytestmark = pytest.mark.cluster
OWNER_EMAIL, OWNER_CHAT, OWNER_MOBILE = "artem@messages-cluster.example", "777001", "+79161119900"


def stranger() -> str:
    """A number this cluster's database has not heard from: a reused cluster remembers its callers."""
    return f"+7903{secrets.randbelow(10**7):07d}"


@pytest.fixture(scope="module")
def line_tenant(modem_admin) -> str:
    from concurrent.futures import ThreadPoolExecutor

    from cli.local_access import local_tenant_id

    with ThreadPoolExecutor(1) as pool:
        tenant = pool.submit(asyncio.run, local_tenant_id()).result()
    r = modem_admin.put(
        "/messages/channels",
        params={"tenant": tenant},
        json={
            "email": OWNER_EMAIL,
            "telegram_bot_token": BOT_TOKEN,
            "telegram_chat_id": OWNER_CHAT,
            "sms_number": OWNER_MOBILE,
            "language": "en",
        },
    )
    assert r.status_code == 200 and r.json()["channels"] == ["email", "telegram", "sms"], r.text
    return tenant


def delivered(admin: httpx.Client, call_id: str, within_s: float = 60.0) -> dict:
    """The call's message once every channel has it."""
    deadline = time.monotonic() + within_s
    message = None
    while time.monotonic() < deadline:
        items = admin.get("/messages", params={"limit": 20}).json()["items"]
        message = next((m for m in items if m["call_id"] == call_id), None)
        if message is not None:
            message = admin.get(f"/messages/{message['id']}").json()
            if message["deliveries"] and all(d["status"] == "sent" for d in message["deliveries"]):
                return message
        time.sleep(0.5)
    raise AssertionError(f"the message was not delivered within {within_s} s: {message}")


def owner_got(owner_inbox, sim, name: str) -> tuple[list, list, list]:
    smtp, telegram = owner_inbox
    mails = [m for m in smtp.to(OWNER_EMAIL) if name in m["Subject"]]
    notes = [s for s in telegram.to(OWNER_CHAT) if name in (s.text or "")]
    sms = [t for n, t in sim.call(lambda: list(sim.modem.sent_sms)) if n == OWNER_MOBILE and name in t]
    return mails, notes, sms


async def test_a_caller_on_the_modem_leaves_a_message_that_reaches_the_owner_once(
    modem_admin, modem_sim, line_tenant, owner_inbox, tts_service
):
    from tests.messages.test_message_from_a_phone_call import piper_script

    smtp, _ = owner_inbox
    smtp.refuse_next = 1
    words = "My name is John Smith, please ask Artem to call me back at five o'clock."
    script = await piper_script(tts_service, (9.5, words), (21.0, "Thank you, goodbye."), total_s=36)
    before, number = known_calls(modem_admin), stranger()
    modem_sim.call(modem_sim.modem.uplink.clear)
    modem_sim.call(modem_sim.modem.incoming_call, number, script)
    record = await asyncio.to_thread(wait_for_call_end, modem_admin, before)
    assert "May I have your name" in record["transcript"][0]["text"], record["transcript"]
    message = await asyncio.to_thread(delivered, modem_admin, record["id"])

    assert message["caller_name"] == "John Smith" and message["number"] == number, message
    assert message["intent"] == "callback" and message["callback_text"].endswith("17:00"), message
    assert message["extracted_by"] in ("llm", "llm+rules", "rules") and message["summary"]
    assert smtp.refused >= 1
    mails, notes, sms = owner_got(owner_inbox, modem_sim, "John Smith")
    assert len(mails) == 1 and number in mails[0].get_content() and "17:00" in mails[0].get_content()
    assert len(notes) == 1 and notes[0].method == "sendVoice" and notes[0].voice[:4] == b"OggS"
    assert len(sms) == 1 and "17:00" in sms[0]
    await asyncio.sleep(2)  # a few more rounds of the desk: nothing more is sent
    assert [len(x) for x in owner_got(owner_inbox, modem_sim, "John Smith")] == [1, 1, 1]


async def test_a_russian_caller_on_the_websocket_leaves_a_message(
    cluster, api_key, modem_admin, modem_sim, line_tenant, owner_inbox
):
    said = "Меня зовут Иван Петров, попросите Артёма перезвонить мне в пять часов."
    caller = float_to_pcm16(decode_audio(festival_ru_wav(said), 8000).samples * 0.9).tobytes()
    greeting_s = 13  # Marina's greeting, her question for a stranger's name and the recording notice
    script = b"\x00" * 16000 * greeting_s + caller + b"\x00" * 16000 * 8
    number = stranger()
    _, events = await ws_call(cluster, api_key, f"?sample_rate=8000&persona=marina&caller={quote(number)}", script)
    ended = events[-1]
    assert "Представьтесь" in ended["record"]["turns"][0]["text"], ended["record"]["turns"]
    message = await asyncio.to_thread(delivered, modem_admin, ended["record"]["call_id"])

    assert message["language"] == "ru" and message["number"] == number, message
    assert message["caller_name"] == "Иван Петров", message
    assert message["intent"] == "callback" and message["callback_text"].endswith("17:00"), message
    mails, notes, sms = owner_got(owner_inbox, modem_sim, "Иван Петров")
    assert len(mails) == 1 and len(notes) == 1 and len(sms) == 1
    assert notes[0].method == "sendVoice"  # the WebSocket call was recorded too


async def test_an_english_caller_on_the_websocket_leaves_a_message(
    cluster, api_key, modem_admin, modem_sim, line_tenant, owner_inbox, tts_service
):
    from tests.messages.test_message_from_a_phone_call import piper_script

    words = "My name is Mary Jones, please ask Artem to call me back tomorrow at ten thirty."
    script = await piper_script(tts_service, (9.5, words), total_s=20)
    number = stranger()
    _, events = await ws_call(cluster, api_key, f"?sample_rate=8000&persona=anna&caller={quote(number)}", script)
    message = await asyncio.to_thread(delivered, modem_admin, events[-1]["record"]["call_id"])
    assert message["caller_name"] == "Mary Jones" and message["number"] == number, message
    assert message["callback_text"] == "tomorrow at 10:30", message
    assert [len(x) for x in owner_got(owner_inbox, modem_sim, "Mary Jones")] == [1, 1, 1]
