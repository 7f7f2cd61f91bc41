"""E-mail to the owner over SMTP, in English or Russian.

The ``Message-ID`` is derived from the delivery, so in the one case the outbox sends twice (a
worker killed after the server took the mail, before it could write that down) the owner's mail
client shows one message.
"""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage

from infra.mail import SmtpConfig, send_mail
from messages import compose
from messages.channels.base import Channel, DeliveryFailed, DeliveryRefused, Notification


class EmailChannel(Channel):
    name = "email"

    def __init__(self, smtp: SmtpConfig, public_url: str = "") -> None:
        self.smtp, self.public_url = smtp, public_url.rstrip("/")

    def build(self, note: Notification) -> EmailMessage:
        msg = EmailMessage()
        msg["To"] = note.channels.email
        msg["From"] = self.smtp.sender
        msg["Subject"] = compose.subject(note.message, note.language)
        msg["Message-ID"] = f"<delivery-{note.delivery_id}.{note.message['id']}@secretary>"
        link = f"{self.public_url}{note.message['call_url']}" if self.public_url else note.message["call_url"]
        msg.set_content(compose.text(note.message, note.language, link))
        return msg

    async def send(self, note: Notification) -> None:
        if not note.channels.email:
            raise DeliveryRefused("no e-mail address is set")
        if not self.smtp.host:
            raise DeliveryRefused("no SMTP server is configured (SECRETARY_SMTP_HOST)")
        msg = self.build(note)
        try:
            await asyncio.to_thread(send_mail, self.smtp, msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryRefused(f"the SMTP server refused the address: {exc}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}"[:300]) from None
