"""The whitelist of AT commands: typed, validated, and the only way to talk to the modem.

No API field ever becomes part of an AT line as given. Every command is a frozen dataclass whose
fields are validated on construction (digits for numbers, one DTMF key, a bounded index) and
rendered by code here, so ``;``, ``\\r``, Ctrl-Z or a second command cannot be smuggled in.
SMS text and numbers travel hex-encoded as UCS2, which carries Russian text and leaves nothing
for an injection to hide in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

CTRL_Z = "\x1a"
ESC = "\x1b"
MAX_SMS_CHARS = 670  # 10 concatenated UCS2 parts of 67 characters


class CommandRejected(ValueError):
    """A command or one of its parameters is not allowed; the message says why."""


_DIGITS = re.compile(r"\+?[0-9]{3,15}")
_DTMF = re.compile(r"[0-9*#A-D]")


def _check_number(number: str) -> str:
    if not isinstance(number, str) or not _DIGITS.fullmatch(number):
        raise CommandRejected(f"not a dialable number: {number!r} (only + and 3-15 digits)")
    return number


def ucs2_hex(text: str) -> str:
    return text.encode("utf-16-be").hex().upper()


def from_ucs2_hex(data: str) -> str:
    return bytes.fromhex(data).decode("utf-16-be")


@dataclass(frozen=True)
class ATCommand:
    """One AT command. ``expects`` is the prefix of the information line a success must carry."""

    timeout_s: ClassVar[float] = 5.0
    expects: ClassVar[str | None] = None
    diagnostic: ClassVar[bool] = False  # read-only, safe for the admin diagnostic set
    # Information lines this command's response carries that would otherwise look like URCs
    # (+CLCC:, +CREG:, +CPIN: are also pushed unsolicited).
    owns: ClassVar[str | None] = None

    def render(self) -> str:  # pragma: no cover - every subclass overrides
        raise NotImplementedError


def _fixed(
    name: str,
    line: str,
    *,
    timeout: float = 5.0,
    expects: str | None = None,
    diagnostic: bool = False,
    owns: str | None = None,
) -> type[ATCommand]:
    cls = type(
        name,
        (ATCommand,),
        {
            "render": lambda self: line,
            "timeout_s": timeout,
            "expects": expects,
            "diagnostic": diagnostic,
            "owns": owns or expects or None,
            "__doc__": f"``{line}``",
        },
    )
    return dataclass(frozen=True)(cls)


Attention = _fixed("Attention", "AT", diagnostic=True)
EchoOff = _fixed("EchoOff", "ATE0")
VerboseErrors = _fixed("VerboseErrors", "AT+CMEE=2")
CallerId = _fixed("CallerId", "AT+CLIP=1")
RingCodes = _fixed("RingCodes", "AT+CRC=1")
HangupModeChup = _fixed("HangupModeChup", "AT+CVHU=0")
CallWaitingOn = _fixed("CallWaitingOn", "AT+CCWA=1")
RejectWaiting = _fixed("RejectWaiting", "AT+CHLD=0")
SmsTextMode = _fixed("SmsTextMode", "AT+CMGF=1")
SmsUcs2 = _fixed("SmsUcs2", 'AT+CSCS="UCS2"')
SmsUcs2Params = _fixed("SmsUcs2Params", "AT+CSMP=17,167,0,8")
SmsNotifications = _fixed("SmsNotifications", "AT+CNMI=2,1")
UrcOnAllPorts = _fixed("UrcOnAllPorts", "AT+CATR=0")
Identify = _fixed("Identify", "ATI", expects="Manufacturer:", diagnostic=True)
Imei = _fixed("Imei", "AT+CGSN", expects="", diagnostic=True)
SimStatus = _fixed("SimStatus", "AT+CPIN?", expects="+CPIN:", diagnostic=True)
SignalQuality = _fixed("SignalQuality", "AT+CSQ", expects="+CSQ:", diagnostic=True)
Operator = _fixed("Operator", "AT+COPS?", expects="+COPS:", diagnostic=True, timeout=10.0)
Registration = _fixed("Registration", "AT+CREG?", expects="+CREG:", diagnostic=True)
EpsRegistration = _fixed("EpsRegistration", "AT+CEREG?", expects="+CEREG:", diagnostic=True)
ActivityStatus = _fixed("ActivityStatus", "AT+CPAS", expects="+CPAS:", diagnostic=True)
CallList = _fixed("CallList", "AT+CLCC", diagnostic=True, owns="+CLCC:")
PcmStatus = _fixed("PcmStatus", "AT+CPCMREG?", expects="+CPCMREG", diagnostic=True)
LastCallError = _fixed("LastCallError", "AT+CEER", expects="+CEER:", diagnostic=True)
Answer = _fixed("Answer", "ATA", timeout=10.0)
HangUp = _fixed("HangUp", "AT+CHUP", timeout=10.0)
Pcm16k = _fixed("Pcm16k", "AT+CPCMFRM=1")
Reset = _fixed("Reset", "AT+CRESET", timeout=10.0)


@dataclass(frozen=True)
class Dial(ATCommand):
    """``ATD<number>;`` (the ``;`` makes it a voice call). The number must be policy-approved."""

    number: str
    timeout_s: ClassVar[float] = 15.0

    def __post_init__(self) -> None:
        _check_number(self.number)

    def render(self) -> str:
        return f"ATD{self.number};"


@dataclass(frozen=True)
class SendDtmf(ATCommand):
    key: str

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not _DTMF.fullmatch(self.key):
            raise CommandRejected(f"not a DTMF key: {self.key!r} (one of 0-9 * # A-D)")

    def render(self) -> str:
        return f"AT+VTS={self.key}"


@dataclass(frozen=True)
class SetPcm(ATCommand):
    """``AT+CPCMREG=1|0``: route call audio to the USB audio port (only inside a call)."""

    enabled: bool

    def render(self) -> str:
        return f"AT+CPCMREG={1 if self.enabled else 0}"


@dataclass(frozen=True)
class _SmsIndex(ATCommand):
    index: int
    verb: ClassVar[str] = ""

    def __post_init__(self) -> None:
        if isinstance(self.index, bool) or not isinstance(self.index, int) or not 0 <= self.index <= 999:
            raise CommandRejected(f"not an SMS index: {self.index!r}")

    def render(self) -> str:
        return f"AT+{self.verb}={self.index}"


@dataclass(frozen=True)
class ReadSms(_SmsIndex):
    verb: ClassVar[str] = "CMGR"
    expects: ClassVar[str | None] = "+CMGR:"


@dataclass(frozen=True)
class DeleteSms(_SmsIndex):
    verb: ClassVar[str] = "CMGD"


@dataclass(frozen=True)
class ListSms(ATCommand):
    status: str = "ALL"
    timeout_s: ClassVar[float] = 15.0
    STATUSES: ClassVar[tuple[str, ...]] = ("ALL", "REC UNREAD", "REC READ")

    def __post_init__(self) -> None:
        if self.status not in self.STATUSES:
            raise CommandRejected(f"not an SMS list status: {self.status!r}")

    def render(self) -> str:
        # With CSCS="UCS2" the status string itself travels hex-encoded.
        return f'AT+CMGL="{ucs2_hex(self.status)}"'


@dataclass(frozen=True)
class SendSms(ATCommand):
    """``AT+CMGS="<number>"``, then the body after the ``> `` prompt, ended by Ctrl-Z.

    Number and text are UCS2 hex (the modem is in ``CSCS="UCS2"``), so control characters could
    not end the message early even if they got this far; they are refused anyway, loudly.
    """

    number: str
    text: str
    timeout_s: ClassVar[float] = 60.0
    expects: ClassVar[str | None] = "+CMGS:"
    _body: str = field(default="", init=False, repr=False)

    def __post_init__(self) -> None:
        _check_number(self.number)
        if not isinstance(self.text, str) or not self.text:
            raise CommandRejected("an SMS needs text")
        bad = sorted({f"0x{ord(c):02X}" for c in self.text if ord(c) < 0x20 or ord(c) == 0x7F})
        if bad:
            raise CommandRejected(f"SMS text carries control characters {', '.join(bad)}")
        if len(self.text) > MAX_SMS_CHARS:
            raise CommandRejected(f"SMS text is {len(self.text)} characters; the limit is {MAX_SMS_CHARS}")

    def render(self) -> str:
        return f'AT+CMGS="{ucs2_hex(self.number)}"'

    def body(self) -> str:
        return ucs2_hex(self.text) + CTRL_Z


# The admin API's read-only diagnostic set, by name. Nothing else is reachable from outside.
DIAGNOSTICS: dict[str, type[ATCommand]] = {
    cls.__name__: cls
    for cls in (
        Attention,
        Identify,
        Imei,
        SimStatus,
        SignalQuality,
        Operator,
        Registration,
        EpsRegistration,
        ActivityStatus,
        CallList,
        PcmStatus,
        LastCallError,
    )
}
INIT_SEQUENCE: tuple[type[ATCommand], ...] = (
    EchoOff,
    VerboseErrors,
    CallerId,
    RingCodes,
    HangupModeChup,
    CallWaitingOn,
    SmsTextMode,
    SmsUcs2,
    SmsUcs2Params,
    SmsNotifications,
    UrcOnAllPorts,
)
