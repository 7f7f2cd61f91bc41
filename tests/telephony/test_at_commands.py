"""The AT whitelist: only typed commands render, and injection attempts are refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telephony import at_commands as at


def test_rendering():
    assert at.Dial("+79161234567").render() == "ATD+79161234567;"
    assert at.SendDtmf("#").render() == "AT+VTS=#"
    assert at.SetPcm(True).render() == "AT+CPCMREG=1" and at.SetPcm(False).render() == "AT+CPCMREG=0"
    assert at.ReadSms(3).render() == "AT+CMGR=3"
    sms = at.SendSms("+79161234567", "Перезвоните, пожалуйста")
    assert sms.render() == 'AT+CMGS="' + at.ucs2_hex("+79161234567") + '"'
    assert sms.body().endswith(at.CTRL_Z)
    assert at.from_ucs2_hex(sms.body()[:-1]) == "Перезвоните, пожалуйста"


@pytest.mark.parametrize(
    "number",
    [
        "+79161234567;",
        '123;+CMGS="1"',
        "+7916\rATH",
        "ATD123",
        "+7 916 123",
        "",
        "1" * 16,
        "*100#",
        "12",
    ],
)
def test_dial_injections_refused(number):
    with pytest.raises(at.CommandRejected):
        at.Dial(number)


@pytest.mark.parametrize(
    "text",
    [
        'hi\x1aAT+CMGS="+79000000000"',
        "hi\x1b",
        "hi\rATD+79161234567;",
        "line\nAT+CRESET",
        "\x00",
        "del\x7f",
    ],
)
def test_sms_control_characters_refused(text):
    with pytest.raises(at.CommandRejected, match="control characters"):
        at.SendSms("+79161234567", text)


def test_sms_limits():
    with pytest.raises(at.CommandRejected):
        at.SendSms("+79161234567", "")
    with pytest.raises(at.CommandRejected):
        at.SendSms("+79161234567", "x" * (at.MAX_SMS_CHARS + 1))


@pytest.mark.parametrize("bad", [-1, 1000, True, "3", 2.0])
def test_sms_index_validated(bad):
    with pytest.raises(at.CommandRejected):
        at.ReadSms(bad)


@given(st.text(max_size=40))
def test_no_string_renders_more_than_one_command(s):
    for make in (at.Dial, lambda v: at.SendDtmf(v), lambda v: at.SendSms("+79161234567", v)):
        try:
            cmd = make(s)
        except at.CommandRejected:
            continue
        line = cmd.render()
        assert "\r" not in line and "\n" not in line and line.count(";") <= 1 and "\x1a" not in line
        if isinstance(cmd, at.SendSms):
            body = cmd.body()
            assert body[:-1].isalnum() or (body[:-1] == "" and body.endswith("\x1a"))


def test_diagnostic_set_is_read_only():
    assert set(at.DIAGNOSTICS) >= {"SignalQuality", "Operator", "SimStatus", "Imei"}
    for cls in at.DIAGNOSTICS.values():
        assert cls.diagnostic
        line = cls().render()
        assert line == "AT" or line.endswith("?") or line in ("ATI", "AT+CGSN", "AT+CSQ", "AT+CPAS", "AT+CLCC", "AT+CEER")
    assert "Reset" not in at.DIAGNOSTICS and "Dial" not in at.DIAGNOSTICS
