"""A real pseudo-terminal with a scripted peer: the client under test opens the tty with
pyserial-asyncio exactly as it would open /dev/ttyUSB2; the script answers on the master side."""

from __future__ import annotations

import asyncio
import os
import tty
from collections.abc import Awaitable, Callable

import serial_asyncio

Reply = Callable[[str], Awaitable[None]]


class ScriptedPort:
    def __init__(self, handler: Callable[[str, ScriptedPort], Awaitable[None]]) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.master)
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.handler = handler
        self.received: list[str] = []
        self._buf = b""
        self._task: asyncio.Task | None = None
        self.tasks: list[asyncio.Task] = []  # delayed replies the script scheduled

    async def start(self):
        loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        loop.add_reader(self.master, lambda: self._queue.put_nowait(os.read(self.master, 4096)))
        self._task = asyncio.create_task(self._run())
        return await serial_asyncio.open_serial_connection(url=self.path, baudrate=115200)

    async def _run(self) -> None:
        while True:
            self._buf += await self._queue.get()
            while b"\r" in self._buf or b"\x1a" in self._buf:
                idx = min(i for i in (self._buf.find(b"\r"), self._buf.find(b"\x1a")) if i >= 0)
                line, self._buf = self._buf[: idx + 1].decode(errors="replace"), self._buf[idx + 1 :]
                line = line.strip("\r\n")
                self.received.append(line)
                await self.handler(line, self)

    def write(self, data: str | bytes) -> None:
        os.write(self.master, data.encode() if isinstance(data, str) else data)

    def line(self, text: str, end: str = "\r\n") -> None:
        self.write(f"\r\n{text}{end}")

    async def stop(self) -> None:
        asyncio.get_running_loop().remove_reader(self.master)
        if self._task:
            self._task.cancel()
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass
