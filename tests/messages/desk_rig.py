"""The message desk wired to local fakes: an SMTP sink, the Telegram Bot API fake, SMS through a
modem ingress, over one database."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from infra.mail import SmtpConfig
from messages.channels.email import EmailChannel
from messages.channels.sms import SmsChannel
from messages.channels.telegram import TelegramChannel
from messages.delivery_settings import ChannelsIn, DeliverySettings
from messages.desk import MessageDesk
from messages.models import DeliveryRow
from messages.outbox import Outbox
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.smtp_sink import SmtpSink

OWNER_EMAIL = "artem@smile-clinic.example"
OWNER_CHAT = "4242"
OWNER_MOBILE = "+79161112233"


@dataclass
class DeskRig:
    desk: MessageDesk
    outbox: Outbox
    smtp: SmtpSink
    telegram: FakeTelegram
    url: str

    async def settle(self, within_s: float = 30.0) -> None:
        """Run the desk until no call waits for its message and no delivery is due or in flight."""
        from sqlalchemy import select

        from infra.database import session_factory
        from telephony.call_store import CallRow

        deadline = asyncio.get_running_loop().time() + within_s
        while asyncio.get_running_loop().time() < deadline:
            await self.desk.run_once()
            async with session_factory(self.url)() as s:
                waiting = (await s.execute(select(CallRow.id).where(CallRow.message_state == "pending"))).first()
                busy = (
                    await s.execute(select(DeliveryRow.id).where(DeliveryRow.status.in_(("pending", "sending"))))
                ).first()
            if waiting is None and busy is None:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the desk did not settle")


async def make_desk(url: str, send_sms=None, recordings=None, complete_for=None, personas=None, **outbox) -> DeskRig:
    smtp, telegram = SmtpSink().start(), FakeTelegram().start()
    channels = {
        "email": EmailChannel(SmtpConfig("127.0.0.1", smtp.port)),
        "telegram": TelegramChannel(telegram.api_url),
        "sms": SmsChannel(lambda _tenant: send_sms),
    }
    box = Outbox(channels, url, backoff_s=outbox.pop("backoff_s", 0.05), recordings=recordings, **outbox)
    desk = MessageDesk(box, complete_for or (lambda _lang: None), url, personas)
    return DeskRig(desk, box, smtp, telegram, url)


async def owner_channels(url: str, tenant: str | None = None, sms: bool = True, **more) -> None:
    await DeliverySettings(url).put(
        tenant,
        ChannelsIn(
            email=OWNER_EMAIL,
            telegram_bot_token=TOKEN,
            telegram_chat_id=OWNER_CHAT,
            **({"sms_number": OWNER_MOBILE} if sms else {}),
            **more,
        ),
    )
