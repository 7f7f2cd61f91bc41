"""The SIM7600 driver against the simulator: calls with audio both ways, SMS, policy, faults."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from telephony.at_client import ATError
from telephony.number_policy import NumberPolicy, PolicyRefusal
from telephony.sim7600 import (
    CallConnected,
    CallEnded,
    IncomingCall,
    MissedCall,
    ModemLost,
    ModemReady,
    SIM7600Driver,
    SmsReceived,
    signal,
)
from telephony.simulator.faults import Faults
from telephony.simulator.modem import SimConfig, SimulatedModem


class Rig:
    def __init__(self, modem: SimulatedModem, driver: SIM7600Driver, events: list) -> None:
        self.modem, self.driver, self.events = modem, driver, events

    async def event(self, kind: type, within_s: float = 5.0):
        async def poll():
            while True:
                for e in self.events:
                    if isinstance(e, kind):
                        self.events.remove(e)
                        return e
                await asyncio.sleep(0.01)

        return await asyncio.wait_for(poll(), within_s)


@pytest.fixture
async def rig(tmp_path):
    rigs: list[Rig] = []

    async def make(faults: Faults | None = None) -> Rig:
        modem = SimulatedModem(
            tmp_path / f"m{len(rigs)}",
            SimConfig(ring_period_s=0.2, dial_answer_delay_s=0.2, sms_send_delay_s=0.1, reset_down_s=0.3),
            faults,
        )
        await modem.start()
        events: list = []
        driver = SIM7600Driver(
            modem.at_path, modem.audio_path, NumberPolicy(), events.append, pcm_accept_window_s=3.0, backoff=(0.1, 1.0)
        )
        await driver.connect()
        r = Rig(modem, driver, events)
        rigs.append(r)
        return r

    yield make
    for r in rigs:
        await r.driver.close()
        await r.modem.stop()


def tone(seconds: float, freq: float = 440.0) -> bytes:
    t = np.arange(int(8000 * seconds)) / 8000
    return (np.sin(2 * np.pi * freq * t) * 8000).astype("<i2").tobytes()


def test_signal_conversion():
    assert signal(16) == (-81, "good")
    assert signal(31) == (-51, "excellent")
    assert signal(0) == (-113, "poor")
    assert signal(99) == (None, "none")


async def test_initialisation_and_status(rig):
    r = await rig()
    sent = r.modem.commands
    for expected in ("ATE0", "AT+CMEE=2", "AT+CLIP=1", "AT+CRC=1", "AT+CVHU=0", "AT+CMGF=1", "AT+CNMI=2,1", "AT+CPCMREG=0"):
        assert expected in sent
    st = await r.driver.status()
    assert st.imei == "862636050029311" and st.sim == "READY" and st.signal_dbm == -81
    assert st.operator == "MTS RUS" and st.registration == "home"
    assert (await r.driver.diagnostic("SignalQuality"))[-1] == "OK"
    with pytest.raises(ValueError):
        await r.driver.diagnostic("AT+CRESET")


async def test_incoming_call_end_to_end_audio(rig):
    r = await rig(Faults(pcmreg_errors=2))
    caller = tone(1.0, 300)
    r.modem.incoming_call("+79161234567", caller)
    assert (await r.event(IncomingCall)).number == "+79161234567"
    await r.driver.answer()
    audio = await r.driver.start_audio()  # retried past two ERRORs
    assert r.modem.commands.count("AT+CPCMREG=1") == 3

    received = bytearray()

    async def listen():
        async for frame in audio.frames():
            assert len(frame) == 320
            received.extend(frame)
            if len(received) >= len(caller):
                return

    listener = asyncio.get_running_loop().create_task(listen())  # read from the first frame on
    reply = tone(1.5, 500)
    audio.play(reply)
    t0 = time.monotonic()
    await asyncio.wait_for(listener, 5)
    for _ in range(300):  # the queue drains at real time: at most ~1.5 s
        if audio.queued_s == 0:
            break
        await asyncio.sleep(0.02)
    # Underruns are counted until the reply is declared complete; the pacer may tick once or twice
    # on the emptied queue before this loop sees it, so the port's own count allows for that.
    audio.finish_playback()
    elapsed = time.monotonic() - t0
    await asyncio.sleep(0.1)
    if r.modem.downlink_dropped_bytes == 0:
        assert bytes(received[: len(caller)]) == caller  # reassembled exactly, in order
    else:  # the machine stalled us past the PTY buffer: what did arrive is still in order
        assert bytes(received[:3200]) == caller[:3200]
    assert elapsed > 1.3  # paced in real time: 1.5 s of audio cannot leave in a burst
    assert audio.underruns <= 2 and audio.frames_sent >= len(reply) // 320
    # The simulator drains on its own 20 ms clock in the same event loop; a loaded CI machine can
    # make it miss a tick or two, which is not what this test is about.
    assert r.modem.uplink_underruns <= 2
    assert reply[:3200] in bytes(r.modem.uplink)

    r.modem.remote_hang_up()
    ended = await r.event(CallEnded)
    assert ended.reason == "remote_hangup"
    assert not r.driver.in_call and r.driver.audio is None


async def test_local_hangup_and_second_call(rig):
    r = await rig()
    for _ in range(2):
        r.modem.incoming_call("+79161234567")
        await r.event(IncomingCall)
        await r.driver.answer()
        await r.driver.start_audio()
        await r.driver.hang_up()
        assert (await r.event(CallEnded)).reason == "local_hangup"
        assert r.modem.call is None
    # CPCMREG=0 was sent before each answer
    answers = [i for i, c in enumerate(r.modem.commands) if c == "ATA"]
    assert all(r.modem.commands[i - 1] == "AT+CPCMREG=0" for i in answers)


async def test_missed_call(rig):
    r = await rig(Faults(caller_gives_up_after_rings=2))
    r.modem.incoming_call("+79161234567")
    assert (await r.event(MissedCall)).number == "+79161234567"


@pytest.mark.parametrize(("outcome", "reason"), [("BUSY", "busy"), ("NO ANSWER", "no_answer"), ("NO CARRIER", "no_carrier")])
async def test_outgoing_call_failures(rig, outcome, reason):
    r = await rig(Faults(dial_outcome=outcome))
    assert await r.driver.dial("8 916 123-45-67") == "+79161234567"
    assert (await r.event(CallEnded)).reason == reason


async def test_outgoing_call_connects(rig):
    r = await rig()
    await r.driver.dial("+79161234567")
    await r.event(CallConnected)
    assert r.driver.in_call
    assert "ATD+79161234567;" in r.modem.commands


@pytest.mark.parametrize("number", ["8 809 505 12 34", "+79161234567;ATH", "+7916123456\r\nAT+CRESET"])
async def test_policy_and_injection_refusals_reach_no_modem(rig, number):
    r = await rig()
    before = list(r.modem.commands)
    with pytest.raises(PolicyRefusal):
        await r.driver.dial(number)
    with pytest.raises((PolicyRefusal, ValueError)):
        await r.driver.send_sms(number, "hi")
    assert r.modem.commands == before


async def test_sms_round_trip(rig):
    r = await rig()
    assert await r.driver.send_sms("+79161234567", "Запись на 15:00 подтверждена") == 1
    assert r.modem.sent_sms[-1] == ("+79161234567", "Запись на 15:00 подтверждена")
    with pytest.raises(ValueError):
        await r.driver.send_sms("+79161234567", "hi\x1aATD+79000000000;")
    idx = r.modem.receive_sms("+79167654321", "Можно перенести на завтра?")
    assert (await r.event(SmsReceived)).index == idx
    msg = await r.driver.read_sms(idx)
    assert msg.number == "+79167654321" and msg.text == "Можно перенести на завтра?"
    assert msg.status == "REC UNREAD"
    listed = await r.driver.list_sms()
    assert [(m.index, m.status, m.text) for m in listed] == [(idx, "REC READ", "Можно перенести на завтра?")]


async def test_reset_mid_call_ends_the_call_and_recovers(rig):
    r = await rig()
    r.modem.incoming_call("+79161234567")
    await r.event(IncomingCall)
    await r.driver.answer()
    await r.driver.start_audio()
    t0 = time.monotonic()
    asyncio.get_running_loop().create_task(r.modem.reset())
    assert (await r.event(CallEnded)).reason == "modem_lost"
    await r.event(ModemLost)
    await r.event(ModemReady, within_s=5)
    recovered = time.monotonic() - t0
    assert recovered < 3.0  # the bound: port down time + at most one backoff step + init
    assert not r.driver.in_call
    st = await r.driver.status()
    assert st.sim == "READY"
    r.modem.incoming_call("+79161234567")
    await r.event(IncomingCall)
    await r.driver.answer()


async def test_pcm_never_accepted_gives_up_within_window(rig):
    r = await rig(Faults(pcmreg_errors=1000))
    r.modem.incoming_call("+79161234567")
    await r.event(IncomingCall)
    await r.driver.answer()
    t0 = time.monotonic()
    with pytest.raises(ATError):
        await r.driver.start_audio()
    assert time.monotonic() - t0 <= 3.5
