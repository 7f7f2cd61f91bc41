"""The modem ingress on the simulator: answered calls with real speech, records, faults, SMS, outbound."""

from __future__ import annotations

import asyncio
import io
import time
import wave

import numpy as np
import pytest

from infra.audio import pcm16_to_float, resample
from telephony.at_commands import CommandRejected
from telephony.modem_ingress import LineBusy
from telephony.number_policy import PolicyRefusal
from telephony.simulator.faults import Faults
from tests.speech import wer
from tests.telephony.ingress_rig import caller_script, make_rig

NUMBER = "+79161234567"


@pytest.fixture
async def rigs(tmp_path, transcriber, synthesizer):
    made = []

    async def make(**kw):
        rig = await make_rig(tmp_path / f"r{len(made)}", transcriber, synthesizer, **kw)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        await rig.ingress.stop()
        await rig.modem.stop()


def transcribe(stt_engine, pcm: bytes) -> str:
    audio = resample(pcm16_to_float(pcm), 8000, 16000).astype(np.float32)
    return stt_engine.transcribe(audio, language="en").text


async def test_answered_call_end_to_end(rigs, stt_engine):
    rig = await rigs(replies=["We open at nine in the morning."])
    question = "What time do you open tomorrow?"
    audio = caller_script((4.0, question), (11.0, "Thank you, goodbye."), total_s=25)
    rig.modem.incoming_call(NUMBER, audio)
    ringing = await rig.next_event("call.ringing", within_s=5)
    assert ringing.data["number"] == "+7916***4567"  # events never carry the number in clear
    record = await rig.call_ended(within_s=40)

    assert record["end_reason"] == "caller_goodbye" and record["direction"] == "inbound"
    assert record["number"] == "+7916***4567" and record["status"] == "ended" and record["duration_s"] > 5
    caller = [t for t in record["transcript"] if t["speaker"] == "caller"]
    assistant = [t["text"] for t in record["transcript"] if t["speaker"] == "assistant"]
    assert wer(question, caller[0]["text"]) <= 0.25
    assert "We open at nine in the morning." in assistant
    # What the secretary said on the line (recorded by the modem) is the greeting and the answer.
    heard = transcribe(stt_engine, bytes(rig.modem.uplink)).lower()
    assert "anna" in heard and "recorded" in heard and ("nine" in heard or "9" in heard)
    # Whisper and Piper share this process (and the simulator its event loop) here, so a few late
    # ticks happen; in the cluster the models run elsewhere (see bench/bench_modem_call.py).
    assert rig.modem.uplink_underruns <= 0.02 * len(rig.modem.uplink) / 320
    assert rig.modem.call is None  # hung up after the farewell
    # The recording holds both directions on one clock: caller left, assistant right.
    with wave.open(io.BytesIO(rig.recordings.read(record["recording_ref"]))) as w:
        assert w.getnchannels() == 2 and w.getframerate() == 8000
        stereo = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2)
    assert "open" in transcribe(stt_engine, stereo[:, 0].tobytes()).lower()
    assert "morning" in transcribe(stt_engine, stereo[:, 1].tobytes()).lower()


async def test_a_caller_who_withdrew_recording_consent_is_not_recorded_nor_told_so(rigs):
    """Issue 20: stored consent was never checked, so every call was recorded after a withdrawal."""
    from privacy.service import PrivacyService

    rig = await rigs(replies=["Certainly."], recording_consent=True)
    privacy = PrivacyService(rig.store.url, recordings=rig.recordings)
    await privacy.record_consent("8 916 123-45-67", "call_recording", True, "v1", "call")
    await privacy.record_consent("+7 (916) 123-45-67", "call_recording", False, "v1", "sms")  # withdrawn later
    rig.modem.incoming_call(NUMBER, caller_script((3.5, "Thank you, goodbye."), total_s=15))
    record = await rig.call_ended(within_s=40)
    assert record["recording_ref"] is None
    assert not any("record" in t["text"].lower() for t in record["transcript"] if t["speaker"] == "assistant")
    rig.modem.incoming_call("+79035550000", caller_script((3.5, "Thank you, goodbye."), total_s=15))
    other = await rig.call_ended(within_s=40)
    assert other["recording_ref"] is not None  # no decision on record: recorded, with the notice


async def test_second_caller_is_declined_busy_and_the_call_goes_on(rigs):
    rig = await rigs(replies=["Certainly."])
    rig.modem.incoming_call(NUMBER, caller_script((3.5, "Can I book a table?"), total_s=30))
    first = await rig.next_event("call.answered", within_s=10)
    rig.modem.incoming_call("+79035550000")
    declined = await rig.next_event("call.declined", within_s=5)
    assert declined.data["reason"] == "busy"
    assert rig.modem.declined == ["+79035550000"]
    assert rig.ingress.call is not None and rig.ingress.call.call_id == first.data["call_id"]
    busy = await rig.store.get_call(declined.data["call_id"])
    assert busy["end_reason"] == "busy" and busy["number"] == "+7903***0000"
    # The first call is still answered normally.
    for _ in range(100):
        if rig.llm.calls:
            break
        await asyncio.sleep(0.1)
    assert rig.llm.calls, "the active call stopped answering after the second caller"
    await rig.ingress.hang_up(first.data["call_id"])
    record = await rig.call_ended()
    assert record["id"] == first.data["call_id"] and record["end_reason"] == "admin_hangup"


async def test_missed_call_is_logged(rigs):
    rig = await rigs(faults=Faults(caller_gives_up_after_rings=1), answer_after_rings=3)
    rig.modem.incoming_call(NUMBER)
    record = await rig.call_ended(within_s=10)
    assert record["end_reason"] == "missed" and record["answered_at"] is None


async def long_answer_playing(rig, total_s: float) -> None:
    """A caller asks "When are you open?" and the scripted long answer has been playing for a second."""
    rig.modem.incoming_call(NUMBER, caller_script((3.5, "When are you open?"), total_s=total_s))
    await rig.next_event("call.answered", within_s=10)
    for _ in range(200):
        if rig.llm.calls:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)


async def test_caller_hangs_up_mid_reply(rigs):
    rig = await rigs(replies=["Let me tell you about all of our opening hours on every single day of the week."])
    await long_answer_playing(rig, total_s=30)
    rig.modem.remote_hang_up()
    record = await rig.call_ended(within_s=10)
    assert record["end_reason"] == "caller_hangup"
    assert any(t["speaker"] == "caller" for t in record["transcript"])
    assert rig.ingress.call is None


async def test_outbound_call_speaks_its_message(rigs, stt_engine):
    rig = await rigs()
    call_id = await rig.ingress.dial(NUMBER, greeting="Hello, this is a reminder of your visit tomorrow at ten.")
    await rig.next_event("call.answered", within_s=5)
    await asyncio.sleep(5.0)
    rig.modem.remote_hang_up()
    record = await rig.call_ended(within_s=10)
    assert record["id"] == call_id and record["direction"] == "outbound" and record["end_reason"] == "caller_hangup"
    assert "reminder" in transcribe(stt_engine, bytes(rig.modem.uplink)).lower()
    assert any(c.startswith("ATD+79161234567;") for c in rig.modem.commands)


@pytest.mark.parametrize("outcome, reason", [("BUSY", "busy"), ("NO ANSWER", "no_answer"), ("NO CARRIER", "no_carrier")])
async def test_outbound_call_not_answered(rigs, outcome, reason):
    rig = await rigs(faults=Faults(dial_outcome=outcome))
    call_id = await rig.ingress.dial(NUMBER)
    record = await rig.call_ended(within_s=5)
    assert record["id"] == call_id and record["end_reason"] == reason and record["answered_at"] is None
    assert rig.ingress.call is None


async def test_refused_numbers_never_reach_the_modem(rigs):
    rig = await rigs()
    for number in ("+7 809 123-45-67", "88031234567", "+79161234567;+CMGS", "+7916123456\r\nATD112;"):
        with pytest.raises((PolicyRefusal, CommandRejected)):
            await rig.ingress.dial(number)
        record = await rig.call_ended(within_s=2)
        assert record["end_reason"] == "refused"
    assert not any(c.upper().startswith("ATD") for c in rig.modem.commands)
    assert rig.ingress.call is None


async def test_one_call_at_a_time(rigs):
    rig = await rigs()
    await rig.ingress.dial(NUMBER)
    with pytest.raises(LineBusy):
        await rig.ingress.dial("+79035550000")
    await rig.next_event("call.answered", within_s=5)
    assert await rig.ingress.hang_up()
    assert (await rig.call_ended())["end_reason"] == "admin_hangup"


# ---- fault classes (spec §5): each ends with a saved record and the next call answered in bounds ----
READY_BOUND_S = 5.0  # from the fault to the ingress answering a new call


async def assert_answers_next_call(rig, after: int | None = None):
    after = rig.ingress.events.last_seq if after is None else after
    t0 = time.monotonic()
    rig.modem.incoming_call("+79035551234", caller_script(total_s=10))
    event = await rig.next_event("call.answered", after=after, within_s=READY_BOUND_S + 5)
    assert time.monotonic() - t0 <= READY_BOUND_S + 2 * 0.3  # plus the two rings before answering
    await rig.ingress.hang_up(event.data["call_id"])
    assert (await rig.call_ended())["end_reason"] == "admin_hangup"


async def test_modem_reset_mid_call(rigs):
    rig = await rigs(replies=["One moment please."])
    rig.modem.incoming_call(NUMBER, caller_script((3.5, "Hello, are you there?"), total_s=30))
    await rig.next_event("call.answered", within_s=10)
    await asyncio.sleep(2.0)
    await rig.modem.reset(down_s=1.0)
    record = await rig.call_ended(within_s=10)
    assert record["end_reason"] == "modem_lost" and record["transcript"]
    assert "AT+CHUP" not in rig.modem.commands  # nothing was up after the reset: nothing to end
    await rig.next_event("modem.ready")  # the first connection's
    await rig.next_event("modem.ready", within_s=READY_BOUND_S)  # back after the reset
    await assert_answers_next_call(rig)


async def test_audio_channel_never_accepted(rigs):
    rig = await rigs(faults=Faults(pcmreg_errors=1000))
    rig.modem.incoming_call(NUMBER)
    record = await rig.call_ended(within_s=15)
    assert record["end_reason"] == "audio_unavailable"
    assert rig.modem.call is None  # the line was hung up, not left open
    rig.modem.faults.pcmreg_errors_left = 0
    await assert_answers_next_call(rig)


async def test_audio_accepted_after_retries(rigs):
    rig = await rigs(faults=Faults(pcmreg_errors=3))
    rig.modem.incoming_call(NUMBER, caller_script(total_s=10))
    answered = await rig.next_event("call.answered", within_s=10)
    await rig.ingress.hang_up(answered.data["call_id"])
    assert (await rig.call_ended())["end_reason"] == "admin_hangup"


async def test_downlink_stall_ends_the_call(rigs):
    rig = await rigs(faults=Faults(downlink_stall_after_s=2.0), stall_s=1.5)
    rig.modem.incoming_call(NUMBER, caller_script(total_s=30))
    record = await rig.call_ended(within_s=15)
    assert record["end_reason"] == "audio_stalled" and rig.modem.call is None
    rig.modem.faults.downlink_stall_after_s = None
    await assert_answers_next_call(rig)


async def test_wedged_uplink_ends_the_call(rigs):
    rig = await rigs(faults=Faults(uplink_wedge_after_s=2.0), stall_s=30.0)
    rig.modem.incoming_call(NUMBER, caller_script(total_s=30))
    record = await rig.call_ended(within_s=15)
    assert record["end_reason"] == "audio_stalled" and rig.modem.call is None
    rig.modem.faults.uplink_wedge_after_s = None
    await assert_answers_next_call(rig)


async def test_garbled_lines_and_fragments(rigs):
    rig = await rigs(faults=Faults(noise_on_open=True, one_byte_fragments=True, seed=7), replies=["Yes, we deliver."])
    rig.modem.incoming_call(NUMBER, caller_script((3.5, "Do you deliver?"), (9.0, "Goodbye."), total_s=20))
    record = await rig.call_ended(within_s=40)
    assert record["end_reason"] == "caller_goodbye"


async def test_answer_refused_by_modem(rigs):
    rig = await rigs(faults=Faults(errors={"ATA": "+CME ERROR: operation not allowed"}))
    rig.modem.incoming_call(NUMBER)
    record = await rig.call_ended(within_s=10)
    assert record["end_reason"] == "answer_failed" and rig.modem.call is None
    rig.modem.faults.errors.clear()
    await assert_answers_next_call(rig)


async def test_slow_answer_is_tolerated(rigs):
    rig = await rigs(faults=Faults(delays={"ATA": 1.5}))
    rig.modem.incoming_call(NUMBER, caller_script(total_s=10))
    answered = await rig.next_event("call.answered", within_s=10)
    await rig.ingress.hang_up(answered.data["call_id"])
    assert (await rig.call_ended())["end_reason"] == "admin_hangup"


# ---- SMS -------------------------------------------------------------------------------------
async def test_sms_is_stored_removed_from_the_sim_and_answered(rigs):
    rig = await rigs(replies=["Yes, we are open today until six."], sms_auto_reply=True)
    rig.modem.receive_sms(NUMBER, "Вы сегодня работаете?\nДо скольки?")
    sent = await rig.next_event("sms.sent", within_s=10)
    page = await rig.store.list_sms()
    inbound = next(m for m in page.items if m["direction"] == "inbound")
    outbound = next(m for m in page.items if m["direction"] == "outbound")
    assert inbound["text"] == "Вы сегодня работаете?\nДо скольки?" and inbound["number"] == "+7916***4567"
    assert outbound["reply_to"] == inbound["id"] == sent.data["reply_to"]
    assert rig.modem.sent_sms == [(NUMBER, "Yes, we are open today until six.")]
    assert rig.modem.inbox == []
    assert rig.llm.calls[0][-1] == {"role": "user", "content": "Вы сегодня работаете?\nДо скольки?"}


async def test_sms_from_premium_number_is_stored_but_not_answered(rigs):
    rig = await rigs(replies=["Sure."], sms_auto_reply=True)
    rig.modem.receive_sms("88091234567", "Reply to win a prize")
    await rig.next_event("sms.received", within_s=5)
    await asyncio.sleep(0.5)
    assert rig.modem.sent_sms == []
    assert (await rig.store.list_sms()).total == 1


async def test_dangling_calls_are_closed_on_restart(rigs, tmp_path, transcriber, synthesizer):
    rig = await rigs()
    call_id = await rig.store.call_started("inbound", NUMBER, "anna")
    await rig.store.call_answered(call_id)
    assert await rig.store.close_dangling() == 1
    record = await rig.store.get_call(call_id)
    assert record["status"] == "ended" and record["end_reason"] == "ingress_restarted"


async def test_the_persona_from_the_registry_answers(rigs):
    from personas.registry import PersonaRegistry
    from tests.personas.test_registry import persona

    rig = await rigs(personas=True, persona="olga", session={})
    registry = PersonaRegistry(rig.store.url)
    await registry.create(
        persona(
            "olga",
            language="en",
            lines={
                "greeting": "Good afternoon, Olga speaking.",
                "recording_notice": "We record calls.",
                "farewell": "Bye now!",
                "silence_prompt": "Hello?",
                "hangup_line": "Goodbye.",
                "apology": "Sorry, please call back.",
            },
        )
    )
    rig.modem.incoming_call(NUMBER, caller_script((4.0, "Goodbye."), total_s=12))
    record = await rig.call_ended(within_s=30)
    said = [t["text"] for t in record["transcript"] if t["speaker"] == "assistant"]
    assert said[0] == "Good afternoon, Olga speaking. We record calls." and said[-1] == "Bye now!"
    assert record["end_reason"] == "caller_goodbye"


async def test_a_missing_persona_falls_back_to_the_profile_lines(rigs):
    rig = await rigs(personas=True, persona="nobody")
    rig.modem.incoming_call(NUMBER, caller_script((3.5, "Goodbye."), total_s=12))
    record = await rig.call_ended(within_s=30)
    assert record["transcript"][0]["text"].startswith("Hello, this is Anna.")


async def test_a_line_with_no_minutes_left_hears_the_notice_and_hangs_up(rigs, stt_engine, redis_server):
    """The modem's tenant is out of minutes (billing's gate on real Redis): a polite notice, then the end."""
    import uuid

    from billing.gate import UsageGate
    from billing.metering import UsageMeter
    from billing.plans import load_plans
    from billing.subscriptions import SubscriptionState, SubscriptionStore

    rig = await rigs()
    subs = SubscriptionStore(rig.store.url)
    gate = UsageGate(UsageMeter(redis_server.url, rig.store.url), load_plans(), subs, plan_ttl_s=0)
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    await subs.apply_event(
        "stripe", uuid.uuid4().hex, "t", SubscriptionState(tenant, "basic", "active", "stripe", "sub_" + tenant, None)
    )
    limit = load_plans().get("basic").call_ms_limit
    await gate.meter.consume(tenant, "call_ms", limit, event_id="the-month")
    rig.ingress.allowance_for = lambda call_id: gate.allowance(tenant, call_id)
    try:
        rig.modem.incoming_call(NUMBER, caller_script((3.0, "Hello, I would like to book a table."), total_s=20))
        record = await rig.call_ended(within_s=40)
        assert record["end_reason"] == "usage_limit"
        said = [t["text"] for t in record["transcript"] if t["speaker"] == "assistant"]
        assert len(said) == 1 and "minutes" in said[0] and not any(t["speaker"] == "caller" for t in record["transcript"])
        assert "minutes" in transcribe(stt_engine, bytes(rig.modem.uplink)).lower()
        assert rig.modem.call is None  # we hung up
        assert await gate.meter.used(tenant, "call_ms") > limit  # the short call is counted too
    finally:
        await gate.close()


async def test_an_outbound_call_that_reaches_voicemail_leaves_its_message_and_hangs_up(rigs, stt_engine):
    from telephony.simulator.modem import AudioSource

    rig = await rigs()
    machine = "Hello, you have reached John. I cannot take your call. Please leave a message after the tone."
    rig.modem.downlink = AudioSource(caller_script((6.0, machine), total_s=30))  # what answers the call
    message = "Hello, this is a reminder of your visit tomorrow at ten."
    call_id = await rig.ingress.dial(NUMBER, greeting=message)
    record = await rig.call_ended(within_s=40)
    assert record["id"] == call_id and record["end_reason"] == "voicemail", record["transcript"]
    said = [t["text"] for t in record["transcript"] if t["speaker"] == "assistant"]
    assert said == [f"{message} This call is recorded.", message]  # on connect, then left on the machine; no talk
    assert rig.modem.call is None


async def test_draining_ends_the_call_in_words_and_declines_new_ones(rigs, stt_engine):
    """A shutdown or redeploy: the caller mid-reply hears the shutdown line, the record is saved
    as ``shutdown``, and a caller who rings meanwhile is declined, not answered."""
    rig = await rigs(replies=["Let me tell you about all of our opening hours on every single day of the week."])
    await long_answer_playing(rig, total_s=40)
    rig.modem.uplink.clear()
    t0 = time.monotonic()
    drained = await rig.ingress.drain(timeout_s=15)
    record = await rig.call_ended(within_s=5)
    assert drained["call"] == record["id"] and time.monotonic() - t0 < 15
    assert record["end_reason"] == "shutdown"
    last = [t for t in record["transcript"] if t["speaker"] == "assistant"][-1]
    assert last["text"].startswith("I'm sorry, I have to end the call now")
    heard = transcribe(stt_engine, bytes(rig.modem.uplink)).lower()
    assert "call back" in heard and "opening hours" not in heard, heard

    rig.modem.incoming_call("+79035550000", caller_script(total_s=10))
    declined = await rig.call_ended(within_s=10)
    assert declined["end_reason"] == "draining" and declined["answered_at"] is None
