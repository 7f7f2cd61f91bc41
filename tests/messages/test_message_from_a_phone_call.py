"""A caller on the simulated modem leaves a message; the owner gets it once on every channel.

Real speech both ways (espeak-ng caller, Whisper, Piper), the modem ingress on the SIM7600
simulator, the desk with its outbox, a local SMTP server that refuses the first attempt, the
Telegram Bot API fake and SMS back out through the same modem.
"""

from __future__ import annotations

import pytest

from messages.store import MessageStore
from screening.lists import ScreeningLists
from tests.messages.desk_rig import OWNER_CHAT, OWNER_EMAIL, OWNER_MOBILE, make_desk, owner_channels
from tests.telephony.ingress_rig import caller_script, make_rig

NUMBER = "+79161234567"


async def piper_script(tts_service, *parts: tuple[float, str], total_s: float) -> bytes:
    """The caller's lines in Piper's voice at 8 kHz, at their offsets: espeak-ng's "back at five
    o'clock" reaches Whisper as "Mac at I would like", which no secretary could take down."""
    out = bytearray(int(total_s * 8000) * 2)
    for at_s, text in parts:
        pcm, _ = await tts_service.synthesize(text, "joe", 1.0, 8000)
        start = int(at_s * 8000) * 2
        out[start : start + len(pcm)] = pcm[: len(out) - start]
    return bytes(out)


@pytest.fixture
async def line(tmp_path, transcriber, synthesizer):
    rig = await make_rig(tmp_path, transcriber, synthesizer, replies=["Of course, I will pass it on."], front_door=True)

    async def send_sms(number: str, text: str) -> dict:
        return {"reference": await rig.ingress.send_sms(number, text)}

    desk = await make_desk(rig.store.url, send_sms=send_sms, recordings=rig.recordings)
    yield rig, desk
    desk.smtp.stop()
    desk.telegram.stop()
    await rig.ingress.stop()
    await rig.modem.stop()


async def test_a_message_left_on_the_phone_reaches_the_owner_once_on_every_channel(line, tts_service):
    rig, desk = line
    await owner_channels(rig.store.url)
    desk.smtp.refuse_next = 1  # the first attempt is refused: the outbox tries again
    words = "My name is John Smith, please ask Artem to call me back at five o'clock."
    audio = await piper_script(tts_service, (9.0, words), (19.0, "Thank you, goodbye."), total_s=32)
    rig.modem.incoming_call(NUMBER, audio)
    record = await rig.call_ended(within_s=45)
    assert record["end_reason"] == "caller_goodbye"
    greeting = record["transcript"][0]["text"]
    assert "May I have your name" in greeting  # a stranger is asked who they are

    await desk.settle()
    message = await MessageStore(rig.store.url).by_call(record["id"])
    assert message["caller_name"] == "John Smith" and message["number"] == NUMBER
    assert message["intent"] == "callback" and (message["callback_text"] or "").endswith("17:00"), (
        message,
        [t["text"] for t in record["transcript"]],
    )
    assert "call me back" in message["reason"].lower() and message["screened"] is None
    assert {d["channel"]: d["status"] for d in message["deliveries"]} == {"email": "sent", "telegram": "sent", "sms": "sent"}
    email = next(d for d in message["deliveries"] if d["channel"] == "email")
    assert email["attempts"] == 2 and desk.smtp.refused == 1

    mails = desk.smtp.to(OWNER_EMAIL)
    assert len(mails) == 1
    body = mails[0].get_content()
    assert "John Smith" in mails[0]["Subject"] and NUMBER in body and "17:00" in body
    sent = desk.telegram.to(OWNER_CHAT)
    assert len(sent) == 1 and sent[0].method == "sendVoice"  # the call's audio, the message as its caption
    assert sent[0].voice[:4] == b"OggS" and sent[0].duration >= 10
    assert "John Smith" in sent[0].text and NUMBER in sent[0].text
    sms = [(n, t) for n, t in rig.modem.sent_sms if n == OWNER_MOBILE]
    assert len(sms) == 1 and "John Smith" in sms[0][1] and "17:00" in sms[0][1]

    await desk.settle()  # nothing is due any more: nothing is sent twice
    assert len(desk.smtp.to(OWNER_EMAIL)) == 1 and len(desk.telegram.to(OWNER_CHAT)) == 1
    assert len([n for n, _ in rig.modem.sent_sms if n == OWNER_MOBILE]) == 1


async def test_a_blocked_number_is_declined_politely_and_no_one_is_notified(line):
    rig, desk = line
    await owner_channels(rig.store.url)
    await ScreeningLists(rig.store.url).put(NUMBER, "block", note="telemarketer")
    rig.modem.incoming_call(NUMBER, caller_script((5.0, "Hello, I have a special offer for you."), total_s=15))
    record = await rig.call_ended(within_s=30)
    assert record["end_reason"] == "screened" and record["screening"] == "blocked"
    assert [t["text"] for t in record["transcript"]] == ["Sorry, this line cannot take your call. Goodbye."]
    assert not record["recording_ref"]

    await desk.settle()
    message = await MessageStore(rig.store.url).by_call(record["id"])
    assert message["screened"] == "blocked" and message["deliveries"] == []
    assert desk.smtp.messages == [] and desk.telegram.sent == [] and rig.modem.sent_sms == []


async def test_a_recorded_robocall_is_cut_short_and_no_one_is_notified(line):
    rig, desk = line
    await owner_channels(rig.store.url)
    pitch = (
        "Congratulations, you have been selected for an exclusive holiday package with free flights and hotel. "
        "To claim your prize call us today, this offer is only valid for the next twenty four hours, "
        "terms and conditions apply, our agents are waiting for your call right now."
    )
    rig.ingress.config.session["turn"] = {"max_turn_s": 4.0}
    rig.ingress.config.session["one_way_speech_s"] = 8.0
    rig.modem.incoming_call(NUMBER, caller_script((0.5, pitch), total_s=30))
    record = await rig.call_ended(within_s=40)
    assert record["end_reason"] == "one_way_speech"

    await desk.settle()
    message = await MessageStore(rig.store.url).by_call(record["id"])
    assert message["screened"] == "robocall" and message["screened_reason"] == "one-way speech that never yielded a turn"
    assert message["deliveries"] == [] and desk.smtp.messages == [] and desk.telegram.sent == []


async def test_a_russian_caller_on_the_modem_leaves_a_message_in_russian(tmp_path, multilingual_stt_engine, synthesizer):
    """Marina's line: the caller (Festival's Russian voice) is heard by Whisper base in Russian and
    the message is taken in Russian, its callback time in Moscow time."""
    from infra.audio import decode_audio, float_to_pcm16
    from infra.settings import PROJECT_ROOT
    from personas.registry import PersonaRegistry
    from tests.local_engines import EngineTranscriber
    from tests.speech import festival_ru_wav

    rig = await make_rig(
        tmp_path, EngineTranscriber(multilingual_stt_engine), synthesizer, personas=True, persona="marina", front_door=True
    )
    await PersonaRegistry(rig.store.url).seed(PROJECT_ROOT / "cluster" / "personas.yaml")

    async def send_sms(number: str, text: str) -> dict:
        return {"reference": await rig.ingress.send_sms(number, text)}

    desk = await make_desk(
        rig.store.url, send_sms=send_sms, recordings=rig.recordings, personas=lambda t: PersonaRegistry(rig.store.url)
    )
    try:
        await owner_channels(rig.store.url, language="ru")
        said = "Меня зовут Иван Петров, попросите Артёма перезвонить мне в пять часов."
        pcm, bye = (
            float_to_pcm16(decode_audio(festival_ru_wav(text), 8000).samples * 0.9).tobytes()
            for text in (said, "Спасибо, до свидания.")
        )
        audio = b"\x00" * 16000 * 12 + pcm + b"\x00" * 16000 * 7 + bye + b"\x00" * 16000 * 4
        rig.modem.incoming_call(NUMBER, audio)
        record = await rig.call_ended(within_s=60)
        assert "Представьтесь" in record["transcript"][0]["text"]
        await desk.settle(within_s=60)
        message = await MessageStore(rig.store.url).by_call(record["id"])
        assert message["language"] == "ru" and message["caller_name"] == "Иван Петров", (message, record["transcript"])
        assert message["callback_text"] in ("сегодня в 17:00", "завтра в 17:00") and message["intent"] == "callback"
        assert message["callback_at"].endswith("+00:00")  # 17:00 in Moscow, stored as UTC: 14:00
        assert message["callback_at"][11:16] == "14:00"
        mail = desk.smtp.to(OWNER_EMAIL)
        assert len(mail) == 1 and mail[0]["Subject"] == "Сообщение от Иван Петров"
        assert "Перезвонить:" in mail[0].get_content() and NUMBER in mail[0].get_content()
        assert len(desk.telegram.to(OWNER_CHAT)) == 1
        assert len([t for n, t in rig.modem.sent_sms if n == OWNER_MOBILE and "Иван Петров" in t]) == 1
    finally:
        desk.smtp.stop()
        desk.telegram.stop()
        await rig.ingress.stop()
        await rig.modem.stop()
