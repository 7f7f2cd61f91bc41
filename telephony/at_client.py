"""An asyncio AT client: one command at a time, URCs on the side, timeouts that cannot misalign.

Responses are collected per command until a final result code; every URC goes to the URC
handler instead, even when it arrives between a command and its ``OK``. A command that times
out leaves the port *suspect*: its final code may still come, and pairing that late ``OK`` with
the next command would be a silent lie (spec §5.6). So before the next command the client
sends a bare ``AT`` probe and waits until the port is quiet and the probe's own ``OK`` has come
back; any finals before it are the late ones and are dropped. Commands with an ``expects``
prefix also refuse an ``OK`` that arrives without their information line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from infra import metrics
from infra.logging import get_logger
from telephony.at_commands import ATCommand, Attention, SendSms
from telephony.at_framing import SMS_PROMPT, LineFramer, LineKind, classify

log = get_logger(__name__)
CALL_RESULT_CODES = ("NO CARRIER", "BUSY", "NO ANSWER", "NO DIALTONE")
AT_TIMEOUTS = metrics.counter("at_command_timeouts_total", "AT commands that timed out", ("command",))
AT_STRAY = metrics.counter("at_stray_finals_total", "Final result codes that matched no command")


class ATError(RuntimeError):
    """The modem answered with an error final code (``ERROR``, ``+CME ERROR: …``, ``NO CARRIER``…)."""

    def __init__(self, command: str, final: str, lines: list[str]) -> None:
        super().__init__(f"{command} -> {final}")
        self.command, self.final, self.lines = command, final, lines


class ATTimeout(TimeoutError):
    pass


class PortClosed(ConnectionError):
    pass


@dataclass
class Response:
    command: str
    lines: list[str] = field(default_factory=list)
    final: str = ""

    def info(self, prefix: str) -> str | None:
        for line in self.lines:
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
        return None


@dataclass
class _Pending:
    command: ATCommand
    future: asyncio.Future
    lines: list[str] = field(default_factory=list)
    wants_prompt: bool = False


class ATClient:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        on_urc: Callable[[str], None] | None = None,
        resync_quiet_s: float = 0.3,
    ) -> None:
        self.reader, self.writer = reader, writer
        self.on_urc = on_urc or (lambda _line: None)
        self.resync_quiet_s = resync_quiet_s
        self._framer = LineFramer()
        self._lock = asyncio.Lock()
        self._pending: _Pending | None = None
        self._suspect = False
        self._closed = asyncio.Event()
        self._reader_task = asyncio.create_task(self._read_loop(), name="at-reader")
        self._last_rx = 0.0

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def _read_loop(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                data = await self.reader.read(1024)
                if not data:
                    break
                self._last_rx = loop.time()
                for line in self._framer.feed(data):
                    self._dispatch(line)
        except (OSError, asyncio.IncompleteReadError) as exc:
            log.warning("at.port_error", error=str(exc))
        finally:
            self._closed.set()
            if self._pending and not self._pending.future.done():
                self._pending.future.set_exception(PortClosed("the AT port closed"))

    def _dispatch(self, line: str) -> None:
        p = self._pending
        kind = classify(line, expect_prompt=bool(p and p.wants_prompt))
        if kind is LineKind.PROMPT and p is not None:
            p.future.set_result(SMS_PROMPT)
            return
        if line in CALL_RESULT_CODES and not (p and _awaits_call(p)):
            # A remote hang-up or the late outcome of a dial (ATD answers OK at once): an event,
            # not the answer to whatever command is in flight.
            kind = LineKind.URC
        if kind is LineKind.URC and p is not None and p.command.owns and line.startswith(p.command.owns):
            kind = LineKind.INFO  # e.g. +CLCC: lines answering AT+CLCC, not pushed by the modem
        if kind is LineKind.URC:
            try:
                self.on_urc(line)
            except Exception:  # a handler bug must not kill the port
                log.exception("at.urc_handler_failed")
            return
        if p is None or p.future.done():
            if kind in (LineKind.FINAL_OK, LineKind.FINAL_ERROR):
                AT_STRAY.inc()
                log.info("at.stray_final", line=line)
            return
        if kind is LineKind.INFO:
            if line != p.command.render():  # an echo, if echo is still on
                p.lines.append(line)
            return
        expects = p.command.expects
        if kind is LineKind.FINAL_OK and expects and not any(x.startswith(expects) for x in p.lines):
            AT_STRAY.inc()  # an OK without the information line this command must carry: a late one
            log.info("at.stray_final", line=line, command=p.command.render())
            return
        p.future.set_result(Response(p.command.render(), list(p.lines), line))

    async def _send_and_wait(self, command: ATCommand, timeout_s: float) -> Response:
        loop = asyncio.get_running_loop()
        pending = _Pending(command, loop.create_future(), wants_prompt=isinstance(command, SendSms))
        self._pending = pending
        try:
            self.writer.write(command.render().encode() + b"\r")
            await self.writer.drain()
            result = await asyncio.wait_for(pending.future, timeout_s)
            if isinstance(command, SendSms):
                pending.future = loop.create_future()
                pending.wants_prompt = False
                self.writer.write(command.body().encode())
                await self.writer.drain()
                result = await asyncio.wait_for(pending.future, timeout_s)
            return result
        finally:
            self._pending = None

    async def _resync(self) -> None:
        """Drain late finals: probe with ``AT`` until a probe's OK follows a quiet port."""
        loop = asyncio.get_running_loop()
        for _ in range(5):
            await asyncio.sleep(self.resync_quiet_s)
            if loop.time() - self._last_rx < self.resync_quiet_s:
                continue  # still talking: the late answer is arriving
            try:
                await self._send_and_wait(Attention(), 2.0)
            except (TimeoutError, ATTimeout):
                continue
            # Anything final that was still in flight arrived before our probe's OK.
            self._suspect = False
            return
        raise ATTimeout("the AT port did not settle after a timed-out command")

    async def send(self, command: ATCommand, timeout_s: float | None = None) -> Response:
        """Send a whitelisted command and return its response; raises ATError / ATTimeout."""
        if not isinstance(command, ATCommand):
            raise TypeError("only whitelisted ATCommand objects can be sent")
        async with self._lock:
            if self.closed:
                raise PortClosed("the AT port is closed")
            if self._suspect:
                await self._resync()
            t = timeout_s or command.timeout_s
            try:
                response = await self._send_and_wait(command, t)
            except TimeoutError:
                self._suspect = True
                AT_TIMEOUTS.inc(command=type(command).__name__)
                raise ATTimeout(f"{command.render()} got no final result in {t:.1f} s") from None
            if classify(response.final) is LineKind.FINAL_ERROR:
                raise ATError(response.command, response.final, response.lines)
            return response

    async def close(self) -> None:
        self._reader_task.cancel()
        try:
            self.writer.close()
        except Exception:
            pass


def _awaits_call(p: _Pending) -> bool:
    """``NO CARRIER`` answers ATD/ATA (the call failed); otherwise it is a remote hang-up URC."""
    line = p.command.render()
    return line.startswith("ATD") or line == "ATA"
