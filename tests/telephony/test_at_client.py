"""The AT client over a real PTY against scripted modem behaviour from the spec."""

from __future__ import annotations

import asyncio

import pytest

from telephony import at_commands as at
from telephony.at_client import ATClient, ATError, ATTimeout, PortClosed
from tests.telephony.scripted_port import ScriptedPort


@pytest.fixture
async def open_client():
    """Opens a client on a scripted port; closes both after the test, whatever happened."""
    opened: list[tuple[ScriptedPort, ATClient]] = []

    async def make(handler, **kw):
        port = ScriptedPort(handler)
        reader, writer = await port.start()
        urcs: list[str] = []
        client = ATClient(reader, writer, on_urc=urcs.append, **kw)
        opened.append((port, client))
        return port, client, urcs

    yield make
    for port, client in opened:
        await client.close()
        await port.stop()


async def basic(line: str, port: ScriptedPort) -> None:
    if line == "AT+CSQ":
        port.line("+CSQ: 16,99")
        port.line("OK")
    elif line == "AT":
        port.line("OK")
    elif line == "AT+CPIN?":
        port.line("+CME ERROR: 10")
    elif line.startswith("ATD"):
        port.line("OK")


async def test_response_lines_and_errors(open_client):
    _port, client, _ = await open_client(basic)
    r = await client.send(at.SignalQuality())
    assert r.info("+CSQ:") == "16,99" and r.final == "OK"
    with pytest.raises(ATError) as e:
        await client.send(at.SimStatus())
    assert e.value.final == "+CME ERROR: 10"
    with pytest.raises(TypeError):
        await client.send("ATD+79161234567;")  # raw strings are not commands


async def test_urcs_between_command_and_ok_go_to_the_handler(open_client):
    async def handler(line, port):
        if line == "AT+CSQ":
            port.write('\r\n+CSQ: 20,99\r\n\r\nRING\r\r\n\r\n+CLIP: "+79161234567",145,,,"",0\r\n\r\nOK\r\n')

    _port, client, urcs = await open_client(handler)
    r = await client.send(at.SignalQuality())
    assert r.lines == ["+CSQ: 20,99"]
    assert urcs == ["RING", '+CLIP: "+79161234567",145,,,"",0']


async def test_late_ok_is_never_paired_with_the_next_command(open_client):
    """Spec §5.6: AT+COPS? answers after the client gave up; the next AT+CSQ must get its own OK."""

    async def handler(line, port):
        if line == "AT+COPS?":

            async def late():
                await asyncio.sleep(0.6)
                port.line('+COPS: 1,0,"MTS RUS",7')
                port.line("OK")

            port.tasks.append(asyncio.create_task(late()))
        elif line == "AT+CSQ":
            await asyncio.sleep(0.05)
            port.line("+CSQ: 11,99")
            port.line("OK")
        elif line == "AT":
            port.line("OK")

    port, client, _ = await open_client(handler, resync_quiet_s=0.2)
    with pytest.raises(ATTimeout):
        await client.send(at.Operator(), timeout_s=0.3)
    r = await client.send(at.SignalQuality())
    assert r.info("+CSQ:") == "11,99"
    assert "AT" in port.received  # the resync probe was sent


async def test_ok_without_expected_info_line_is_not_accepted(open_client):
    async def handler(line, port):
        if line == "AT+CSQ":
            port.line("OK")  # a stray OK first
            await asyncio.sleep(0.05)
            port.line("+CSQ: 5,99")
            port.line("OK")

    _port, client, _ = await open_client(handler)
    assert (await client.send(at.SignalQuality())).info("+CSQ:") == "5,99"


async def test_remote_hangup_is_a_urc_but_failed_dial_is_an_error(open_client):
    async def handler(line, port):
        if line == "AT+CSQ":
            port.line("VOICE CALL: END: 000012")
            port.line("NO CARRIER", end="\r\r\n")
            port.line("+CSQ: 9,99")
            port.line("OK")
        elif line.startswith("ATD"):
            port.line("NO CARRIER")

    _port, client, urcs = await open_client(handler)
    await client.send(at.SignalQuality())
    assert urcs == ["VOICE CALL: END: 000012", "NO CARRIER"]
    with pytest.raises(ATError, match="NO CARRIER"):
        await client.send(at.Dial("+79161234567"))


async def test_sms_prompt_body_and_reference(open_client):
    async def handler(line, port):
        if line.startswith("AT+CMGS="):
            port.write("\r\n> ")
        elif line.endswith("\x1a"):
            port.line("+CMGS: 42")
            port.line("OK")

    port, client, _ = await open_client(handler)
    r = await client.send(at.SendSms("+79161234567", "Ваш заказ готов"))
    assert r.info("+CMGS:") == "42"
    body = port.received[-1]
    assert at.from_ucs2_hex(body[:-1]) == "Ваш заказ готов"


async def test_port_vanishing_fails_the_pending_command(open_client):
    async def handler(line, port):
        if line == "AT+CSQ":
            await port.stop()

    _port, client, _ = await open_client(handler)
    with pytest.raises((PortClosed, ATTimeout)):
        await client.send(at.SignalQuality(), timeout_s=2)
