"""A desk process killed at a chosen point, for the outbox's crash tests.

``python -m tests.messages.outbox_child <db url> <smtp port> <telegram url> saved|claimed``:
``saved`` takes the messages of ended calls (message and outbox rows committed) and dies before
any send; ``claimed`` claims every due delivery (lease 1 s) and dies before sending any.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from infra.mail import SmtpConfig
from messages.channels.email import EmailChannel
from messages.channels.telegram import TelegramChannel
from messages.desk import MessageDesk
from messages.outbox import Outbox


async def main(url: str, smtp_port: int, telegram_url: str, point: str) -> None:
    channels = {"email": EmailChannel(SmtpConfig("127.0.0.1", smtp_port)), "telegram": TelegramChannel(telegram_url)}
    outbox = Outbox(channels, url, lease_s=1.0)
    if point == "saved":
        assert await MessageDesk(outbox, url=url).process_calls() == 1
    else:
        assert len(await outbox.claim()) == 2
    os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no flush: as an OOM kill or a power cut would


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]))
