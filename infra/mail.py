"""Sending e-mail over SMTP, shared by usage notices and message notifications."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage

from infra.settings import Settings


@dataclass(frozen=True)
class SmtpConfig:
    host: str | None
    port: int = 25
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    sender: str = "secretary@localhost"

    @classmethod
    def from_settings(cls, s: Settings) -> SmtpConfig:
        return cls(s.smtp_host, s.smtp_port, s.smtp_starttls, s.smtp_username, s.smtp_password, s.smtp_from)


def send_mail(smtp: SmtpConfig, msg: EmailMessage, timeout_s: float = 10.0) -> None:
    """Blocking: call it from a worker thread. Raises ``smtplib.SMTPException`` or ``OSError``."""
    if "From" not in msg:
        msg["From"] = smtp.sender
    with smtplib.SMTP(smtp.host, smtp.port, timeout=timeout_s) as client:
        if smtp.starttls:
            client.starttls()
        if smtp.username:
            client.login(smtp.username, smtp.password or "")
        client.send_message(msg)
