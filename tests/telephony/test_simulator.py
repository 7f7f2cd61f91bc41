"""The modem simulator, driven through the real AT client over its pseudo-terminals."""

from __future__ import annotations

import asyncio
import os
import time

import numpy as np
import pytest
import serial_asyncio

from telephony import at_commands as at
from telephony.at_client import ATClient, ATError, ATTimeout
from telephony.simulator.faults import Faults
from telephony.simulator.modem import CallState, SimConfig, SimulatedModem


class Harness:
    def __init__(self, modem: SimulatedModem, client: ATClient, urcs: list[str]) -> None:
        self.modem, self.client, self.urcs = modem, client, urcs

    async def wait_urc(self, prefix: str, within_s: float = 5.0) -> str:
        async def poll() -> str:
            while True:
                for u in self.urcs:
                    if u.startswith(prefix):
                        self.urcs.remove(u)
                        return u
                await asyncio.sleep(0.01)

        return await asyncio.wait_for(poll(), within_s)


async def connect(modem: SimulatedModem) -> Harness:
    reader, writer = await serial_asyncio.open_serial_connection(url=str(modem.at_path), baudrate=115200)
    urcs: list[str] = []
    return Harness(modem, ATClient(reader, writer, on_urc=urcs.append, resync_quiet_s=0.15), urcs)


@pytest.fixture
async def sim(tmp_path):
    harnesses = []

    async def make(faults: Faults | None = None, **cfg) -> Harness:
        config = SimConfig(ring_period_s=0.2, dial_answer_delay_s=0.2, sms_send_delay_s=0.1, reset_down_s=0.2, **cfg)
        modem = SimulatedModem(tmp_path / f"modem{len(harnesses)}", config, faults)
        await modem.start()
        h = await connect(modem)
        harnesses.append(h)
        for cmd in at.INIT_SEQUENCE:
            await h.client.send(cmd())
        return h

    yield make
    for h in harnesses:
        await h.client.close()
        await h.modem.stop()


async def test_identity_and_status(sim):
    h = await sim()
    assert (await h.client.send(at.SignalQuality())).info("+CSQ:") == "16,99"
    assert "MTS RUS" in (await h.client.send(at.Operator())).info("+COPS:")
    assert (await h.client.send(at.Imei())).lines == ["862636050029311"]
    assert (await h.client.send(at.SimStatus())).info("+CPIN:") == "READY"
    assert h.modem.commands[0] == "ATE0" and not h.modem.echo


async def test_incoming_call_with_audio_both_ways(sim):
    h = await sim()
    caller = (np.sin(np.arange(8000) / 8000 * 2 * np.pi * 300) * 8000).astype("<i2").tobytes()
    h.modem.incoming_call("+79161234567", caller)
    assert (await h.wait_urc("+CRING: VOICE")) and '"+79161234567",145' in await h.wait_urc("+CLIP:")
    with pytest.raises(ATError):
        await h.client.send(at.SetPcm(True))  # not in a call yet: ERROR
    await h.client.send(at.Answer())
    assert h.modem.call.state is CallState.ACTIVE
    assert "+CLCC: 1,1,0" in (await h.client.send(at.CallList())).lines[0]
    await h.client.send(at.SetPcm(True))

    fd = os.open(h.modem.audio_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        got = bytearray()
        silence = b"\x00" * 320
        for _ in range(30):  # 600 ms of real-time uplink, paced
            os.write(fd, silence)
            await asyncio.sleep(0.02)
            try:
                got += os.read(fd, 8192)
            except BlockingIOError:
                pass
        assert len(got) >= 320 * 15  # downlink flows in real time
        assert got[:640] == caller[:640]  # in order, whatever the read boundaries
        assert len(h.modem.uplink) >= 320 * 15
    finally:
        os.close(fd)
    await h.client.send(at.HangUp())
    assert (await h.wait_urc("VOICE CALL: END:")).startswith("VOICE CALL: END: 0000")
    assert h.modem.call is None and not h.modem.pcmreg


async def test_remote_hangup_and_missed_call(sim):
    h = await sim(Faults(caller_gives_up_after_rings=2))
    h.modem.incoming_call("89161234567")
    assert "89161234567" in await h.wait_urc("MISSED_CALL:")
    assert h.modem.call is None
    h.modem.faults.caller_gives_up_after_rings = None
    h.modem.incoming_call("+79161234567")
    await h.wait_urc("+CRING")
    await h.client.send(at.Answer())
    h.modem.remote_hang_up()
    await h.wait_urc("VOICE CALL: END:")
    await h.wait_urc("NO CARRIER")


@pytest.mark.parametrize("outcome", ["answer", "BUSY", "NO ANSWER", "NO CARRIER"])
async def test_outgoing_call_outcomes(sim, outcome):
    h = await sim(Faults(dial_outcome=outcome))
    await h.client.send(at.Dial("+79161234567"))  # OK at once
    if outcome == "answer":
        await h.wait_urc("VOICE CALL: BEGIN")
        assert h.modem.call.state is CallState.ACTIVE
    else:
        assert await h.wait_urc(outcome) == outcome
        assert h.modem.call is None


async def test_pcmreg_refused_until_accept_window(sim):
    h = await sim(Faults(pcmreg_errors=2))
    h.modem.incoming_call("+79161234567")
    await h.wait_urc("+CRING")
    await h.client.send(at.Answer())
    for _ in range(2):
        with pytest.raises(ATError):
            await h.client.send(at.SetPcm(True))
    await h.client.send(at.SetPcm(True))
    assert (await h.client.send(at.PcmStatus())).info("+CPCMREG") in (": 1", "1")


async def test_sms_send_and_receive_in_russian(sim):
    h = await sim()
    r = await h.client.send(at.SendSms("+79161234567", "Ваша запись подтверждена"))
    assert r.info("+CMGS:") == "1"
    assert h.modem.sent_sms == [("+79161234567", "Ваша запись подтверждена")]
    idx = h.modem.receive_sms("+79167654321", "Перезвоните мне")
    assert await h.wait_urc("+CMTI:") == f'+CMTI: "SM",{idx}'
    r = await h.client.send(at.ReadSms(idx))
    assert at.from_ucs2_hex(r.lines[1]) == "Перезвоните мне"
    assert at.from_ucs2_hex(r.lines[0].split('"')[3]) == "+79167654321"
    listed = await h.client.send(at.ListSms("ALL"))
    assert at.from_ucs2_hex(listed.lines[0].split('"')[1]) == "REC READ"


async def test_late_ok_fault(sim):
    h = await sim(Faults(delays={"AT+COPS?": 0.6}))
    with pytest.raises(ATTimeout):
        await h.client.send(at.Operator(), timeout_s=0.2)
    assert (await h.client.send(at.SignalQuality())).info("+CSQ:") == "16,99"


async def test_scripted_errors_and_network_state(sim):
    h = await sim(Faults(errors={"AT+CSQ": "+CME ERROR: 100"}, sim_ready=False, registration=2, signal_rssi=99))
    with pytest.raises(ATError, match="100"):
        await h.client.send(at.SignalQuality())
    with pytest.raises(ATError, match="SIM not inserted"):
        await h.client.send(at.SimStatus())
    assert (await h.client.send(at.Registration())).info("+CREG:") == "0,2"


async def test_reset_drops_the_ports_and_boots_again(sim):
    h = await sim()
    h.modem.incoming_call("+79161234567")
    await h.wait_urc("+CRING")
    await h.client.send(at.Answer())
    await h.client.send(at.Reset())
    await asyncio.sleep(0.1)
    assert h.client.closed  # the client saw the port vanish
    for _ in range(100):
        if h.modem.at_path.exists():
            break
        await asyncio.sleep(0.02)
    again = await connect(h.modem)
    try:
        assert h.modem.call is None and not h.modem.pcmreg
        assert (await again.client.send(at.Attention())).final == "OK"
    finally:
        await again.client.close()


async def test_garbled_lines_never_crash_the_client(sim):
    h = await sim()
    h.modem.faults = Faults(seed=7, flip_probability=0.3, truncate_probability=0.2, one_byte_fragments=True)
    ok = 0
    for _ in range(20):
        try:
            await h.client.send(at.SignalQuality(), timeout_s=0.5)
            ok += 1
        except (ATError, ATTimeout):
            pass
    h.modem.faults = Faults()
    assert (await h.client.send(at.SignalQuality(), timeout_s=2)).info("+CSQ:") == "16,99"
    assert ok > 0


async def test_underruns_while_the_simulator_itself_runs_late_are_counted_apart(sim):
    h = await sim()
    h.modem.incoming_call("+79161234567", b"\x00" * 16000)
    await h.wait_urc("+CRING: VOICE")
    await h.client.send(at.Answer())
    await h.client.send(at.SetPcm(True))
    fd = os.open(h.modem.audio_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        for _ in range(10):  # the uplink starts, in real time
            os.write(fd, b"\x00" * 320)
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.06)  # drain what was buffered
        before = (h.modem.uplink_underruns, h.modem.uplink_underruns_while_late)
        time.sleep(0.3)  # noqa: ASYNC251 (on purpose: the simulator shares this loop and must wake 15 ticks late)
        await asyncio.sleep(0.01)
        late = h.modem.uplink_underruns_while_late - before[1]
        assert late >= 10 and h.modem.clock_late_ticks >= 10
        await asyncio.sleep(0.2)  # on time now, and still nothing from the host: real underruns
        assert h.modem.uplink_underruns - before[0] >= 5
    finally:
        os.close(fd)
