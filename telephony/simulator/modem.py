"""The simulated SIM7600G-H: an AT engine, the call state machine, SMS storage and the audio port.

Two pseudo-terminals stand in for the USB interfaces: the AT port (if02) and the raw PCM audio
port (if04). Stable symlinks (``<link_dir>/at``, ``<link_dir>/audio``) play the role of
``/dev/serial/by-id``; ``reset()`` destroys both PTYs (the driver sees EOF/EIO) and recreates
them, as a real ``AT+CRESET`` or an unplug does. Every command received is logged so tests can
assert what was (and was not) sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import tty
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np

from infra.logging import get_logger
from telephony.at_commands import from_ucs2_hex, ucs2_hex
from telephony.simulator.faults import Faults

log = get_logger(__name__)
FRAME_MS = 20


class CallState(Enum):
    IDLE = "idle"
    RINGING_IN = "ringing"  # CLCC 4
    DIALING = "dialing"  # CLCC 2
    ALERTING = "alerting"  # CLCC 3
    ACTIVE = "active"  # CLCC 0


CLCC_STAT = {CallState.ACTIVE: 0, CallState.DIALING: 2, CallState.ALERTING: 3, CallState.RINGING_IN: 4}


@dataclass
class Call:
    direction: int  # 0 outgoing (MO), 1 incoming (MT)
    number: str
    state: CallState
    connected_at: float | None = None

    def duration(self) -> str:
        secs = int(time.monotonic() - self.connected_at) if self.connected_at else 0
        return f"{secs // 3600:02d}{secs // 60 % 60:02d}{secs % 60:02d}"


@dataclass
class Sms:
    index: int
    status: str  # "REC UNREAD", "REC READ"
    number: str
    text: str
    timestamp: str = "25/11/25,12:00:00+12"


@dataclass
class SimConfig:
    imei: str = "862636050029311"
    operator: str = "MTS RUS"
    ring_period_s: float = 1.0
    dial_answer_delay_s: float = 0.5
    sms_send_delay_s: float = 1.0
    cvhu_default: int = 1
    cmee_default: int = 0
    reset_down_s: float = 1.0
    downlink_seed: int = 0


@dataclass
class AudioSource:
    """What the remote party says: 8 kHz S16LE, played once from when audio starts."""

    pcm: bytes = b""
    offset: int = 0


class SimulatedModem:
    def __init__(self, link_dir: Path, config: SimConfig | None = None, faults: Faults | None = None) -> None:
        self.link_dir = Path(link_dir)
        self.config = config or SimConfig()
        self.faults = faults or Faults()
        self.commands: list[str] = []
        self.sent_sms: list[tuple[str, str]] = []
        self.inbox: list[Sms] = []
        self.call: Call | None = None
        self.downlink = AudioSource()
        self.uplink = bytearray()  # everything the host sent, consumed in real time
        self.uplink_underruns = 0
        self.uplink_underrun_frames: list[int] = []  # where in ``uplink`` each of them fell
        self.clock_late_ticks = 0  # audio ticks this simulator ran more than a frame late (host load)
        self.uplink_underruns_while_late = 0  # empty uplink ticks while the simulator itself ran late
        self.downlink_dropped_bytes = 0  # audio the host did not read in time (PTY buffer full)
        self.dtmf_sent: list[str] = []
        # (uplink frame index, downlink frame index) of each call's first uplink frame: the two
        # directions share the 20 ms clock, so this aligns what the caller said with what they heard.
        self.uplink_marks: list[tuple[int, int]] = []
        self.waiting: Call | None = None  # a second incoming call while one is active (call waiting)
        self.declined: list[str] = []  # numbers of waiting calls rejected with AT+CHLD=0
        self.network_busy: list[str] = []  # calls the network turned away (busy, call waiting off)
        self._rng = np.random.default_rng(self.config.downlink_seed)
        self._tasks: set[asyncio.Task] = set()
        self._reset_state()
        self.at_master = self.audio_master = -1

    # ---- lifecycle -----------------------------------------------------------------------
    def _reset_state(self) -> None:
        self.echo = True
        self.cmee = self.config.cmee_default
        self.clip = self.crc = self.ccwa = False
        self.cvhu = self.config.cvhu_default
        self.cscs = "IRA"
        self.pcmreg = False
        self.pcm16k = False
        self._at_buf = b""
        self._sms_pending: str | None = None
        self._uplink_buf = bytearray()
        self._uplink_started = False

    @property
    def at_path(self) -> Path:
        return self.link_dir / "at"

    @property
    def audio_path(self) -> Path:
        return self.link_dir / "audio"

    async def start(self) -> None:
        self.link_dir.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        self.at_master, at_slave = os.openpty()
        self.audio_master, audio_slave = os.openpty()
        for fd in (self.at_master, at_slave, self.audio_master, audio_slave):
            tty.setraw(fd)
        self._slaves = (at_slave, audio_slave)
        for link, slave in ((self.at_path, at_slave), (self.audio_path, audio_slave)):
            with contextlib.suppress(FileNotFoundError):
                link.unlink()
            link.symlink_to(os.ttyname(slave))
        os.set_blocking(self.at_master, False)
        os.set_blocking(self.audio_master, False)
        loop.add_reader(self.at_master, self._on_at_readable)
        self._spawn(self._audio_clock())
        if self.faults.noise_on_open:
            self._write(b"\x00\xff\x13garbage")

    async def stop(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        self._close_ports()

    def _close_ports(self) -> None:
        loop = asyncio.get_event_loop()
        for fd in (self.at_master, self.audio_master):
            if fd >= 0:
                with contextlib.suppress(Exception):
                    loop.remove_reader(fd)
                with contextlib.suppress(OSError):
                    os.close(fd)
        for fd in getattr(self, "_slaves", ()):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.at_master = self.audio_master = -1
        for link in (self.at_path, self.audio_path):
            with contextlib.suppress(FileNotFoundError):
                link.unlink()

    async def reset(self, down_s: float | None = None, drop_after_s: float = 0.0) -> None:
        """Re-enumerate: the PTYs vanish, the call is lost, then the modem boots again."""
        await asyncio.sleep(drop_after_s)  # AT+CRESET answers OK before USB drops
        current = asyncio.current_task()
        for t in list(self._tasks):
            if t is current:
                continue
            t.cancel()
        self._close_ports()
        self.call = None
        self._reset_state()
        await asyncio.sleep(self.config.reset_down_s if down_s is None else down_s)
        await self.start()
        for urc in ("RDY", "+CPIN: READY", "SMS DONE", "PB DONE"):
            self._line(urc)

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ---- output ----------------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        if self.at_master < 0:
            return
        try:
            if self.faults.one_byte_fragments:
                for b in data:
                    os.write(self.at_master, bytes([b]))
            else:
                os.write(self.at_master, data)
        except OSError:
            pass

    def _line(self, text: str, end: str = "\r\n") -> None:
        self._write(self.faults.garble(f"\r\n{text}{end}".encode()))

    def _error(self, code: int = 4, text: str = "operation not supported") -> None:
        self._line("ERROR" if self.cmee == 0 else f"+CME ERROR: {code if self.cmee == 1 else text}")

    def _final(self, command: str, final: str = "OK", lines: tuple[str, ...] = ()) -> None:
        delay = self.faults.delays.get(command)
        if delay:

            async def later() -> None:
                await asyncio.sleep(delay)
                for line in lines:
                    self._line(line)
                self._line(final)

            self._spawn(later())
            return
        for line in lines:
            self._line(line)
        self._line(final)

    # ---- AT input --------------------------------------------------------------------------
    def _on_at_readable(self) -> None:
        try:
            data = os.read(self.at_master, 4096)
        except OSError:
            return
        self._at_buf += data
        while True:
            if self._sms_pending is not None:
                ends = [i for i in (self._at_buf.find(b"\x1a"), self._at_buf.find(b"\x1b")) if i >= 0]
                if not ends:
                    return
                end = min(ends)
                body, terminator, self._at_buf = self._at_buf[:end], self._at_buf[end : end + 1], self._at_buf[end + 1 :]
                self._finish_sms(body.decode(errors="replace"), terminator == b"\x1a")
                continue
            idx = self._at_buf.find(b"\r")
            if idx < 0:
                return
            raw, self._at_buf = self._at_buf[:idx], self._at_buf[idx + 1 :].lstrip(b"\n")
            line = raw.decode(errors="replace").strip()
            if line:
                self._handle(line)

    def _handle(self, line: str) -> None:
        self.commands.append(line)
        if self.echo:
            self._write(f"{line}\r".encode())
        upper = line.upper()
        if not upper.startswith("AT"):
            self._error()
            return
        if upper in self.faults.errors:
            self._line(self.faults.errors[upper])
            return
        try:
            self._dispatch(line, upper)
        except Exception:  # a simulator bug answers ERROR like a confused modem, never crashes
            log.exception("modem_sim.command_failed", command=line)
            self._line("ERROR")

    def _dispatch(self, line: str, u: str) -> None:
        arg = line[line.find("=") + 1 :] if "=" in line else ""
        if u == "AT":
            self._final(u)
        elif u in ("ATE0", "ATE1"):
            self.echo = u == "ATE1"
            self._final(u)
        elif u == "ATI":
            self._final(
                u,
                lines=(
                    "Manufacturer: SIMCOM INCORPORATED",
                    "Model: SIMCOM_SIM7600G-H",
                    "Revision: LE20B04SIM7600G22",
                    f"IMEI: {self.config.imei}",
                    "+GCAP: +CGSM",
                ),
            )
        elif u == "AT+CGSN":
            self._final(u, lines=(self.config.imei,))
        elif u == "AT+CPIN?":
            if self.faults.sim_ready:
                self._final(u, lines=("+CPIN: READY",))
            else:
                self._line(
                    "ERROR" if self.cmee == 0 else ("+CME ERROR: 10" if self.cmee == 1 else "+CME ERROR: SIM not inserted")
                )
        elif u == "AT+CSQ":
            rssi = self.faults.signal_rssi
            self._final(u, lines=(f"+CSQ: {rssi},99",))
        elif u == "AT+COPS?":
            self._final(u, lines=(f'+COPS: 1,0,"{self.config.operator}",7',))
        elif u in ("AT+CREG?", "AT+CEREG?"):
            self._final(u, lines=(f"{u[2:-1]}: 0,{self.faults.registration}",))
        elif u.startswith("AT+CMEE="):
            self.cmee = int(arg)
            self._final(u)
        elif u.startswith("AT+CLIP="):
            self.clip = arg == "1"
            self._final(u)
        elif u.startswith("AT+CRC="):
            self.crc = arg == "1"
            self._final(u)
        elif u.startswith("AT+CVHU="):
            self.cvhu = int(arg)
            self._final(u)
        elif u.startswith("AT+CCWA="):
            self.ccwa = arg.split(",")[0] == "1"
            self._final(u)
        elif u == "AT+CHLD=0":
            if self.waiting is not None:
                self.declined.append(self.waiting.number)
                self.waiting = None
            self._final(u)
        elif u.startswith(("AT+CMGF=", "AT+CNMI=", "AT+CSMP=", "AT+CATR=", "AT+CLCC=")):
            self._final(u)
        elif u.startswith("AT+CSCS="):
            self.cscs = arg.strip('"').upper()
            self._final(u)
        elif u == "AT+CLCC":
            lines = ()
            if self.call:
                c = self.call
                lines = (
                    f'+CLCC: 1,{c.direction},{CLCC_STAT[c.state]},0,0,"{c.number}",'
                    f"{145 if c.number.startswith('+') else 129}",
                )
            self._final(u, lines=lines)
        elif u == "AT+CPAS":
            stat = 0 if not self.call else (3 if self.call.state is CallState.RINGING_IN else 4)
            self._final(u, lines=(f"+CPAS: {stat}",))
        elif u.startswith("ATD"):
            self._dial(line[3:].rstrip(";"), line.endswith(";"))
        elif u == "ATA":
            self._answer()
        elif u == "AT+CHUP":
            self._hang_up_local(u)
        elif u == "ATH":
            if self.cvhu == 0 and self.call:
                self._hang_up_local(u)
            else:
                self._final(u)
        elif u.startswith("AT+VTS="):
            if self.call and self.call.state is CallState.ACTIVE:
                self.dtmf_sent.append(arg)
                self._final(u)
            else:
                self._error(3, "operation not allowed")
        elif u.startswith("AT+CPCMREG="):
            self._pcmreg(u, arg == "1")
        elif u == "AT+CPCMREG?":
            self._final(u, lines=(f"+CPCMREG: {int(self.pcmreg)}",))
        elif u.startswith("AT+CPCMFRM="):
            self.pcm16k = arg == "1"
            self._final(u)
        elif u.startswith("AT+CMGS="):
            self._sms_pending = self._decode(arg.strip('"'))
            self._write(b"\r\n> ")
        elif u.startswith("AT+CMGR="):
            self._read_sms(u, int(arg))
        elif u.startswith("AT+CMGL="):
            self._list_sms(u, self._decode(arg.strip('"')))
        elif u.startswith("AT+CMGD="):
            self.inbox = [m for m in self.inbox if m.index != int(arg)]
            self._final(u)
        elif u == "AT+CEER":
            self._final(u, lines=("+CEER: Normal call clearing",))
        elif u == "AT+CRESET":
            self._final(u)
            self._spawn(self.reset(drop_after_s=0.05))
        else:
            self._line("ERROR")

    def _decode(self, s: str) -> str:
        if self.cscs == "UCS2":
            try:
                return from_ucs2_hex(s)
            except ValueError:
                return s
        return s

    def _encode(self, s: str) -> str:
        return ucs2_hex(s) if self.cscs == "UCS2" else s

    # ---- calls -------------------------------------------------------------------------------
    def _dial(self, number: str, voice: bool) -> None:
        if self.call is not None or not voice:
            self._error(3, "operation not allowed")
            return
        self.call = Call(0, number, CallState.DIALING)
        self._final("ATD")

        async def progress() -> None:
            await asyncio.sleep(self.config.dial_answer_delay_s / 2)
            if self.call is None:
                return
            self.call.state = CallState.ALERTING
            await asyncio.sleep(self.config.dial_answer_delay_s / 2)
            if self.call is None:
                return
            if self.faults.dial_outcome == "answer":
                self._connect()
            else:
                self.call = None
                self._line(self.faults.dial_outcome)

        self._spawn(progress())

    def _connect(self) -> None:
        assert self.call is not None
        self.call.state = CallState.ACTIVE
        self.call.connected_at = time.monotonic()
        self.downlink.offset = 0
        self._line("VOICE CALL: BEGIN")

    def _answer(self) -> None:
        if self.call is None or self.call.state is not CallState.RINGING_IN:
            self._line("NO CARRIER")
            return
        self._connect()
        self._line("OK")

    def _end_call(self) -> str:
        duration = self.call.duration() if self.call else "000000"
        self.call = None
        self.pcmreg = False
        return duration

    def _hang_up_local(self, command: str) -> None:
        if self.call is None:
            self._final(command)
            return
        duration = self._end_call()
        self._line(f"VOICE CALL: END: {duration}")
        self._final(command)

    def remote_hang_up(self) -> None:
        """The other party hangs up."""
        if self.call is None:
            return
        duration = self._end_call()
        self._line(f"VOICE CALL: END: {duration}")
        self._line("NO CARRIER", end="\r\r\n")

    def incoming_call(self, number: str, caller_audio: bytes = b"") -> asyncio.Task:
        """Ring with caller id until answered, rejected, or the caller gives up.

        During a call the new caller waits: with ``AT+CCWA=1`` the host sees ``+CCWA`` and may
        reject it (``AT+CHLD=0``); without call waiting the network answers the caller busy.
        """
        if self.call is not None:
            return self._spawn(self._call_waiting(number))
        call = self.call = Call(1, number, CallState.RINGING_IN)
        self.downlink = AudioSource(caller_audio)

        async def ring() -> None:
            rings = 0
            while self.call is call and call.state is CallState.RINGING_IN:  # this call, not a later one
                self._line("+CRING: VOICE" if self.crc else "RING", end="\r\r\n")
                if self.clip:
                    self._line(f'+CLIP: "{number}",{145 if number.startswith("+") else 129},,,"",0')
                rings += 1
                limit = self.faults.caller_gives_up_after_rings
                await asyncio.sleep(self.config.ring_period_s)
                if limit is not None and rings >= limit and self.call is call and call.state is CallState.RINGING_IN:
                    self.call = None
                    self._line(f"MISSED_CALL: {time.strftime('%I:%M%p')} {number}")

        return self._spawn(ring())

    async def _call_waiting(self, number: str) -> None:
        if not self.ccwa or self.waiting is not None:
            self.network_busy.append(number)
            return
        self.waiting = Call(2, number, CallState.RINGING_IN)
        for _ in range(10):  # the waiting tone lasts a while, then the network gives up
            if self.waiting is None or self.waiting.number != number:
                return
            self._line(f'+CCWA: "{number}",{145 if number.startswith("+") else 129},1', end="\r\n")
            await asyncio.sleep(self.config.ring_period_s)
        if self.waiting is not None and self.waiting.number == number:
            self.waiting = None
            self._line(f"MISSED_CALL: {time.strftime('%I:%M%p')} {number}")

    def _pcmreg(self, command: str, on: bool) -> None:
        if not on:
            self.pcmreg = False
            self._final(command)
            return
        call = self.call
        if call is None or call.state is not CallState.ACTIVE:
            self._line("ERROR")
            return
        too_early = time.monotonic() - (call.connected_at or 0) < self.faults.pcm_accept_delay_s
        if too_early or self.faults.pcmreg_errors_left > 0:
            self.faults.pcmreg_errors_left = max(0, self.faults.pcmreg_errors_left - 1)
            self._line("ERROR")
            return
        self.pcmreg = True
        self._final(command)

    # ---- SMS ---------------------------------------------------------------------------------
    def _finish_sms(self, body: str, send: bool) -> None:
        number, self._sms_pending = self._sms_pending, None
        if not send:
            self._line("OK")
            return
        text = self._decode(body)
        self.sent_sms.append((number or "", text))
        ref = len(self.sent_sms)

        async def later() -> None:
            await asyncio.sleep(self.config.sms_send_delay_s)
            self._line(f"+CMGS: {ref}")
            self._line("OK")

        self._spawn(later())

    def receive_sms(self, number: str, text: str) -> int:
        index = max((m.index for m in self.inbox), default=-1) + 1
        self.inbox.append(Sms(index, "REC UNREAD", number, text))
        self._line(f'+CMTI: "SM",{index}')
        return index

    def _sms_header(self, m: Sms) -> str:
        return f'"{self._encode(m.status)}","{self._encode(m.number)}","","{m.timestamp}"'

    def _read_sms(self, command: str, index: int) -> None:
        m = next((m for m in self.inbox if m.index == index), None)
        if m is None:
            self._line("+CMS ERROR: 321" if self.cmee else "ERROR")
            return
        lines = (f"+CMGR: {self._sms_header(m)}", self._encode(m.text))
        m.status = "REC READ"
        self._final(command, lines=lines)

    def _list_sms(self, command: str, status: str) -> None:
        lines: list[str] = []
        for m in self.inbox:
            if status in ("ALL", m.status):
                lines += [f"+CMGL: {m.index},{self._sms_header(m)}", self._encode(m.text)]
                m.status = "REC READ"
        self._final(command, lines=tuple(lines))

    # ---- audio -------------------------------------------------------------------------------
    @property
    def frame_bytes(self) -> int:
        return 640 if self.pcm16k else 320

    def _audio_on(self) -> bool:
        return bool(self.pcmreg and self.call and self.call.state is CallState.ACTIVE)

    async def _audio_clock(self) -> None:
        """Every 20 ms: one downlink frame out (in random chunks), one uplink frame consumed."""
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        while True:
            next_tick += FRAME_MS / 1000
            await asyncio.sleep(max(0.0, next_tick - loop.time()))
            if not self._audio_on():
                self._uplink_started = False
                self._drain_uplink(discard=True)
                continue
            late = loop.time() - next_tick > FRAME_MS / 1000
            if late:
                self.clock_late_ticks += 1  # the simulator itself ran late: a real modem's clock does not
            self._downlink_frame()
            self._drain_uplink(discard=False, late=late)

    def _downlink_frame(self) -> None:
        n = self.frame_bytes
        stall = self.faults.downlink_stall_after_s
        if stall is not None and self.call and self.call.connected_at and time.monotonic() - self.call.connected_at > stall:
            return
        src = self.downlink
        frame = src.pcm[src.offset : src.offset + n]
        src.offset += n
        frame = frame + b"\x00" * (n - len(frame))
        cuts = sorted(self._rng.choice(np.arange(1, n), size=self._rng.integers(0, 3), replace=False).tolist())
        prev = 0
        for cut in [*cuts, n]:
            # Like the modem, audio nobody reads is lost; count it so tests can tell.
            try:
                written = os.write(self.audio_master, frame[prev:cut])
            except OSError:
                written = 0
            self.downlink_dropped_bytes += (cut - prev) - written
            prev = cut

    def _uplink_wedged(self) -> bool:
        wedge = self.faults.uplink_wedge_after_s
        return bool(
            wedge is not None and self.call and self.call.connected_at and time.monotonic() - self.call.connected_at > wedge
        )

    def _drain_uplink(self, discard: bool, late: bool = False) -> None:
        if self._uplink_wedged():
            return  # nothing is read: the host's writes back up, as on the real endpoint
        # Read only while our buffer holds under ~10 frames: past that the writer blocks, as the
        # modem's bulk OUT endpoint does.
        while len(self._uplink_buf) < 10 * self.frame_bytes:
            try:
                data = os.read(self.audio_master, 4096)
            except (BlockingIOError, OSError):
                break
            if not data:
                break
            self._uplink_buf += data
        if discard:
            self._uplink_buf.clear()
            return
        n = self.frame_bytes
        if len(self._uplink_buf) >= n:
            frame = bytes(self._uplink_buf[:n])
            del self._uplink_buf[:n]
            if not self._uplink_started:
                self.uplink_marks.append((len(self.uplink) // n, self.downlink.offset // n - 1))
            self._uplink_started = True
            self.uplink += b"\x00" * n if self.faults.uplink_silent else frame
        elif self._uplink_started:
            # A tick the simulator ran late (catching up on its own clock) is not the host's
            # underrun: a real modem's clock is never late. Counted apart so tests can tell.
            if late:
                self.uplink_underruns_while_late += 1
            else:
                self.uplink_underruns += 1
                self.uplink_underrun_frames.append(len(self.uplink) // n)
            self.uplink += b"\x00" * n  # the line carries silence: keep the recording on the clock
