"""The SIM7600G-H driver: initialise, report status, answer, dial, hang up, SMS, call audio.

Everything goes through :class:`ATClient` with whitelisted commands; numbers pass the
:class:`NumberPolicy` first. Unsolicited codes become typed events. When the port vanishes (an
unplug, ``AT+CRESET``), the driver reports the call lost, reopens the port by its stable path
with exponential backoff and initialises the modem again.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import serial_asyncio

from infra.logging import get_logger
from telephony import at_commands as at
from telephony.at_client import ATClient, ATError, ATTimeout, PortClosed
from telephony.audio_port import AudioPort
from telephony.number_policy import NumberPolicy

log = get_logger(__name__)


# ---- events ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class IncomingCall:
    number: str | None


@dataclass(frozen=True)
class Ring:
    """One ring of the incoming call (with caller id); ``count`` starts at 1."""

    number: str | None
    count: int


@dataclass(frozen=True)
class CallWaiting:
    """A second caller while a call is active (``+CCWA``): reject it or it waits."""

    number: str | None


@dataclass(frozen=True)
class CallConnected:
    pass


@dataclass(frozen=True)
class CallEnded:
    reason: str  # "remote_hangup", "local_hangup", "busy", "no_answer", "no_carrier", "modem_lost"
    duration_s: int = 0


@dataclass(frozen=True)
class MissedCall:
    number: str | None


@dataclass(frozen=True)
class SmsReceived:
    index: int


@dataclass(frozen=True)
class DtmfReceived:
    key: str


@dataclass(frozen=True)
class ModemLost:
    pass


@dataclass(frozen=True)
class ModemReady:
    pass


ModemEvent = (
    IncomingCall
    | Ring
    | CallWaiting
    | CallConnected
    | CallEnded
    | MissedCall
    | SmsReceived
    | DtmfReceived
    | ModemLost
    | ModemReady
)


@dataclass(frozen=True)
class ModemStatus:
    imei: str
    sim: str
    signal_dbm: int | None
    signal_quality: str
    operator: str | None
    registration: str


@dataclass(frozen=True)
class SmsMessage:
    index: int
    status: str
    number: str
    timestamp: str
    text: str


REGISTRATION = {0: "not registered", 1: "home", 2: "searching", 3: "denied", 4: "unknown", 5: "roaming"}
_CLIP = re.compile(r'\+CLIP:\s*"([^"]*)"')
_CLCC = re.compile(r"\+CLCC:\s*\d+,\d+,(\d)")  # the third field is the call's state
_CCWA = re.compile(r'\+CCWA:\s*"([^"]*)"')
_END = re.compile(r"VOICE CALL: END: (\d{2})(\d{2})(\d{2})")


def signal(rssi: int) -> tuple[int | None, str]:
    """dBm = -113 + 2*rssi for 0..31; 99 means unknown (spec §2)."""
    if not 0 <= rssi <= 31:
        return None, "none"
    dbm = -113 + 2 * rssi
    quality = "excellent" if dbm >= -73 else "good" if dbm >= -83 else "fair" if dbm >= -93 else "poor"
    return dbm, quality


class SIM7600Driver:
    def __init__(
        self,
        at_port: str | Path,
        audio_port: str | Path,
        policy: NumberPolicy,
        on_event: Callable[[ModemEvent], None],
        pcm_accept_window_s: float = 12.0,
        backoff: tuple[float, float] = (0.25, 8.0),
    ) -> None:
        self.at_port, self.audio_path = str(at_port), str(audio_port)
        self.policy, self.on_event = policy, on_event
        self.pcm_accept_window_s = pcm_accept_window_s
        self.backoff = backoff
        self.client: ATClient | None = None
        self.audio: AudioPort | None = None
        self.in_call = False
        self._caller: str | None = None
        self._announced = False  # IncomingCall already reported for the ringing call
        self._rings = 0  # caller-id lines seen for the ringing call
        self._waiting: str | None = None  # the number of a waiting second call already reported
        self._pending_end = 0  # seconds from the last "VOICE CALL: END: HHMMSS"
        self._supervisor: asyncio.Task | None = None
        self._ready = asyncio.Event()
        self._closing = False
        self._background: set[asyncio.Task] = set()  # tasks started from URC callbacks

    # ---- connection ------------------------------------------------------------------------
    async def connect(self, wait: bool = True) -> None:
        """Open and initialise the modem. ``wait=False``: return at once and keep trying in the
        background (the modem may be plugged in later); :meth:`wait_ready` tells when it is up."""
        if wait:
            await self._open()
        self._supervisor = asyncio.create_task(self._supervise(), name="modem-supervisor")

    async def _open(self) -> None:
        reader, writer = await serial_asyncio.open_serial_connection(url=self.at_port, baudrate=115200)
        client = ATClient(reader, writer, on_urc=self._on_urc)
        try:
            await client.send(at.Attention(), timeout_s=3)
            for command in at.INIT_SEQUENCE:
                await client.send(command())
            await client.send(at.SetPcm(False))
            # A call still up (or being dialled) has no session behind it: our process restarted.
            # End it, so the caller is not left in silence and the line is free. A call that is
            # only ringing is left alone: it will be answered.
            states = [m.group(1) for line in (await client.send(at.CallList())).lines if (m := _CLCC.match(line))]
            if any(state in "0123" for state in states):  # active, held, dialling, alerting
                await client.send(at.HangUp())
        except BaseException:
            await client.close()  # a half-initialised port is never kept
            raise
        self.client = client
        self._ready.set()
        log.info("modem.ready", port=self.at_port)

    async def _supervise(self) -> None:
        """Wait for the port to drop, then reopen and re-initialise with backoff."""
        while not self._closing:
            if self.client is not None:
                await self.client._closed.wait()
                if self._closing:
                    return
                self._ready.clear()
                await self._lost()
            delay, first = self.backoff[0], self.client is None
            while not self._closing:
                if not first:
                    await asyncio.sleep(delay)
                first = False
                try:
                    await self._open()
                    self.on_event(ModemReady())
                    break
                except (TimeoutError, OSError, ATError, ATTimeout, PortClosed) as exc:
                    log.info("modem.reconnect_failed", error=type(exc).__name__, retry_in_s=delay)
                    delay = min(delay * 2, self.backoff[1])

    async def _lost(self) -> None:
        log.warning("modem.lost", port=self.at_port)
        await self._close_audio()
        self._announced = False
        if self.in_call:
            self.in_call = False
            self.on_event(CallEnded("modem_lost"))
        self.on_event(ModemLost())

    async def wait_ready(self, timeout_s: float) -> None:
        await asyncio.wait_for(self._ready.wait(), timeout_s)

    async def close(self) -> None:
        self._closing = True
        if self._supervisor:
            self._supervisor.cancel()
        await self._close_audio()
        if self.client:
            await self.client.close()

    async def _send(self, command: at.ATCommand, timeout_s: float | None = None):
        if self.client is None or self.client.closed:
            raise PortClosed("the modem is not connected")
        return await self.client.send(command, timeout_s=timeout_s)

    # ---- URCs ------------------------------------------------------------------------------
    def _on_urc(self, line: str) -> None:
        if line.startswith("+CLIP:"):
            m = _CLIP.match(line)
            number = m.group(1) if m else None
            if number != self._caller or not self._announced:
                self._caller, self._announced, self._rings = number, True, 0
                self.on_event(IncomingCall(number))
            self._rings += 1
            self.on_event(Ring(number, self._rings))
        elif line.startswith("+CCWA:"):
            m = _CCWA.match(line)
            number = m.group(1) if m else None
            if number != self._waiting:
                self._waiting = number
                self.on_event(CallWaiting(number))
        elif line == "VOICE CALL: BEGIN":
            self.in_call = True
            self.on_event(CallConnected())
        elif line.startswith("VOICE CALL: END:"):
            m = _END.match(line)
            secs = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3)) if m else 0
            self._pending_end = secs
        elif line in ("NO CARRIER", "BUSY", "NO ANSWER", "NO DIALTONE"):
            was_active = self.in_call
            self.in_call = False
            self._announced = False
            reason = "remote_hangup" if was_active else line.lower().replace(" ", "_")
            self.on_event(CallEnded(reason, self._pending_end))
            self._pending_end = 0
            task = asyncio.get_running_loop().create_task(self._close_audio())
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        elif line.startswith("MISSED_CALL:"):
            number = line.split()[-1] if len(line.split()) > 2 else None
            if number is not None and number == self._waiting:
                self._waiting = None  # the waiting caller gave up; the active call goes on
            else:
                self._announced = False
            self.on_event(MissedCall(number))
        elif line.startswith("+CMTI:"):
            self.on_event(SmsReceived(int(line.rsplit(",", 1)[-1])))
        elif line.startswith("+RXDTMF:"):
            self.on_event(DtmfReceived(line.split(":", 1)[1].strip()))

    # ---- status ----------------------------------------------------------------------------
    async def status(self) -> ModemStatus:
        imei = (await self._send(at.Imei())).lines[0]
        try:
            sim = (await self._send(at.SimStatus())).info("+CPIN:") or "unknown"
        except ATError as exc:
            sim = f"error: {exc.final}"
        rssi = int(((await self._send(at.SignalQuality())).info("+CSQ:") or "99,99").split(",")[0])
        dbm, quality = signal(rssi)
        cops = (await self._send(at.Operator())).info("+COPS:") or ""
        operator = cops.split('"')[1] if cops.count('"') >= 2 else None
        creg = (await self._send(at.Registration())).info("+CREG:") or "0,4"
        registration = REGISTRATION.get(int(creg.split(",")[-1]), "unknown")
        return ModemStatus(imei, sim, dbm, quality, operator, registration)

    async def diagnostic(self, name: str) -> list[str]:
        """The admin API's read-only set, by name: never a raw AT string."""
        if name not in at.DIAGNOSTICS:
            raise at.CommandRejected(f"unknown diagnostic {name!r}; choose one of {sorted(at.DIAGNOSTICS)}")
        r = await self._send(at.DIAGNOSTICS[name]())
        return [*r.lines, r.final]

    # ---- calls -----------------------------------------------------------------------------
    async def answer(self) -> None:
        await self._send(at.SetPcm(False))  # CPCMREG can stick across calls (spec §3)
        await self._send(at.Answer())
        self.in_call = True

    async def dial(self, raw_number: str) -> str:
        number = self.policy.authorise("dial", raw_number)
        await self._send(at.SetPcm(False))
        await self._send(at.Dial(number))
        return number

    async def hang_up(self) -> None:
        await self._close_audio()
        with contextlib.suppress(ATError):
            await self._send(at.SetPcm(False))
        was = self.in_call
        self.in_call = False
        self._announced = False
        await self._send(at.HangUp())
        if was:
            self.on_event(CallEnded("local_hangup", self._pending_end))

    async def reject_waiting(self) -> None:
        """Turn away the waiting second caller (``AT+CHLD=0``: they hear busy); the call goes on."""
        self._waiting = None
        await self._send(at.RejectWaiting())

    async def send_dtmf(self, key: str) -> None:
        await self._send(at.SendDtmf(key))

    async def start_audio(self, prime_frames: int = 2) -> AudioPort:
        """``AT+CPCMREG=1``, retried within the accept window, then open the audio port."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.pcm_accept_window_s
        delay, tries = 0.2, 0
        while True:
            tries += 1
            try:
                await self._send(at.SetPcm(True))
                break
            except ATError:
                if loop.time() + delay > deadline or not self.in_call:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 1.5, 1.0)
        log.info("modem.audio_on", tries=tries)
        self.audio = AudioPort(self.audio_path, prime_frames=prime_frames)
        await self.audio.open()
        return self.audio

    async def _close_audio(self) -> None:
        audio, self.audio = self.audio, None
        if audio:
            await audio.close()

    # ---- SMS ---------------------------------------------------------------------------------
    async def send_sms(self, raw_number: str, text: str) -> int:
        number = self.policy.authorise("sms", raw_number)
        r = await self._send(at.SendSms(number, text))
        return int(r.info("+CMGS:") or 0)

    @staticmethod
    def _parse_header(header: str) -> list[str]:
        return [
            at.from_ucs2_hex(x) if x and re.fullmatch(r"[0-9A-F]+", x) and len(x) % 4 == 0 else x
            for x in header.split('"')[1::2]
        ]

    async def read_sms(self, index: int) -> SmsMessage:
        r = await self._send(at.ReadSms(index))
        status, number, _alpha, ts = ([*self._parse_header(r.lines[0]), "", "", "", ""])[:4]
        return SmsMessage(index, status, number, ts, at.from_ucs2_hex(r.lines[1]) if len(r.lines) > 1 else "")

    async def delete_sms(self, index: int) -> None:
        await self._send(at.DeleteSms(index))

    async def list_sms(self, status: str = "ALL") -> list[SmsMessage]:
        r = await self._send(at.ListSms(status))
        out: list[SmsMessage] = []
        for head, body in zip(r.lines[::2], r.lines[1::2], strict=False):
            index = int(head.split(":", 1)[1].split(",", 1)[0])
            st, number, _alpha, ts = ([*self._parse_header(head), "", "", "", ""])[:4]
            out.append(SmsMessage(index, st, number, ts, at.from_ucs2_hex(body)))
        return out
