"""A local SMTP server (aiosmtpd) that keeps what it receives: where the usage e-mails go in tests."""

from __future__ import annotations

import email
import email.policy
import logging
import threading
import time
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from tests.db_servers import free_port


class SmtpSink:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.messages: list[EmailMessage] = []
        self.received_at: list[float] = []  # time.time() of each message's arrival (benchmarks)
        self.refuse_next = 0  # answer this many DATA commands with a temporary failure (451)
        self.refused = 0
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    async def handle_DATA(self, _server, _session, envelope) -> str:  # aiosmtpd calls it by this name
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            if self.refuse_next > 0:
                self.refuse_next -= 1
                self.refused += 1
                return "451 4.3.0 Temporary failure, try again later"
            self.messages.append(msg)
            self.received_at.append(time.time())
        return "250 OK"

    def start(self) -> SmtpSink:
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP line at INFO
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if address in (m["To"] or "")]
