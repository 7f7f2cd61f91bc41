"""Each tenant's notification channels: e-mail, Telegram (bot token and chat), SMS to the owner's
mobile; the language of the notifications and quiet hours in the tenant's time zone.

The bot token and the mobile number are sealed at rest and never returned whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from infra.crypto import DecryptionError, Keyring, open_text, seal_text
from infra.database import session_factory, transaction, utcnow
from infra.pii import dialable_number, mask_number
from infra.recordings import SealsPersonalData
from messages.models import DeliverySettingsRow, tenant_key

CHANNELS = ("email", "telegram", "sms")
HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
TOKEN = re.compile(r"^\d{3,15}:[A-Za-z0-9_-]{20,100}$")
CHAT = re.compile(r"^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31})$")


class ChannelsIn(BaseModel):
    """What an owner sets; a field left out keeps its value, ``null`` turns the channel off."""

    model_config = ConfigDict(extra="forbid")
    email: str | None = Field(default=None, max_length=254)
    telegram_bot_token: str | None = Field(default=None, max_length=120)
    telegram_chat_id: str | None = Field(default=None, max_length=40)
    sms_number: str | None = Field(default=None, max_length=32)
    language: str | None = Field(default=None, pattern=r"^(en|ru)$")
    timezone: str | None = Field(default=None, max_length=64)
    quiet_start: str | None = Field(default=None, description="HH:MM; with quiet_end, non-urgent messages wait")
    quiet_end: str | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if v is None:
            return None
        from email_validator import EmailNotValidError, validate_email

        try:
            return validate_email(v, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("telegram_bot_token")
    @classmethod
    def _token(cls, v: str | None) -> str | None:
        if v is not None and not TOKEN.fullmatch(v):
            raise ValueError("a bot token looks like 123456:ABC-DEF… (from @BotFather)")
        return v

    @field_validator("telegram_chat_id")
    @classmethod
    def _chat(cls, v: str | None) -> str | None:
        if v is not None and not CHAT.fullmatch(v):
            raise ValueError("a chat id is a number (-100… for groups) or @channelname")
        return v

    @field_validator("sms_number")
    @classmethod
    def _number(cls, v: str | None) -> str | None:
        if v is not None and len((dialable_number(v) or "").lstrip("+")) < 10:  # a mobile, not a short code
            raise ValueError("a mobile number in full, e.g. +79161234567")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                ZoneInfo(v)
            except (KeyError, ValueError):
                raise ValueError(f"unknown time zone {v!r}") from None
        return v

    @field_validator("quiet_start", "quiet_end")
    @classmethod
    def _hhmm(cls, v: str | None) -> str | None:
        if v is not None and not HHMM.fullmatch(v):
            raise ValueError("a time of day as HH:MM")
        return v

    @model_validator(mode="after")
    def _pairs(self) -> ChannelsIn:
        fields = self.model_fields_set
        if ("quiet_start" in fields) != ("quiet_end" in fields) or (self.quiet_start is None) != (self.quiet_end is None):
            raise ValueError("quiet_start and quiet_end are set (or cleared) together")
        if ({"telegram_bot_token", "telegram_chat_id"} & fields) and (
            (self.telegram_bot_token is None) != (self.telegram_chat_id is None)
        ):
            raise ValueError("telegram_bot_token and telegram_chat_id are set (or cleared) together")
        return self


@dataclass(frozen=True)
class Channels:
    email: str | None = None
    telegram_token: str | None = None
    telegram_chat_id: str | None = None
    sms_number: str | None = None
    sms_number_masked: str | None = None
    language: str = "en"
    timezone: str = "Europe/Moscow"
    quiet_start: str | None = None
    quiet_end: str | None = None

    @property
    def enabled(self) -> list[str]:
        on = {"email": bool(self.email), "telegram": bool(self.telegram_token), "sms": bool(self.sms_number)}
        return [c for c in CHANNELS if on[c]]

    def public(self) -> dict:
        return {
            "email": self.email,
            "telegram": {"chat_id": self.telegram_chat_id, "bot": self.telegram_token.split(":")[0]}
            if self.telegram_token
            else None,
            "sms_number": self.sms_number_masked,
            "language": self.language,
            "timezone": self.timezone,
            "quiet_start": self.quiet_start,
            "quiet_end": self.quiet_end,
            "channels": self.enabled,
        }

    def quiet_until(self, now: datetime) -> datetime | None:
        """When quiet hours end, if ``now`` is inside them; None otherwise."""
        if not self.quiet_start or not self.quiet_end:
            return None
        local = now.astimezone(ZoneInfo(self.timezone))
        start, end = time.fromisoformat(self.quiet_start), time.fromisoformat(self.quiet_end)
        t = local.time().replace(tzinfo=None)
        inside = (start <= t < end) if start < end else (t >= start or t < end)
        if not inside:
            return None
        until = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
        if until <= local:
            from datetime import timedelta

            until += timedelta(days=1)
        return until


def _ctx(key: str, what: str) -> bytes:
    return f"delivery|{key}|{what}".encode()


class DeliverySettings(SealsPersonalData):
    def __init__(self, url: str | None = None, keyring: Keyring | None = None) -> None:
        self.url, self._keyring = url, keyring

    def _open(self, sealed: str | None, key: str, what: str) -> str | None:
        if sealed is None:
            return None
        try:
            return open_text(self.keyring, sealed, _ctx(key, what))
        except DecryptionError:
            return None

    async def get(self, tenant_id: str | None) -> Channels:
        key = tenant_key(tenant_id)
        async with session_factory(self.url)() as s:
            row = await s.get(DeliverySettingsRow, key)
        if row is None:
            return Channels()
        return Channels(
            row.email,
            self._open(row.telegram_token_sealed, key, "telegram"),
            row.telegram_chat_id,
            self._open(row.sms_number_sealed, key, "sms"),
            row.sms_number_masked,
            row.language,
            row.timezone,
            row.quiet_start,
            row.quiet_end,
        )

    async def put(self, tenant_id: str | None, body: ChannelsIn) -> Channels:
        key = tenant_key(tenant_id)
        given = body.model_fields_set
        async with transaction(self.url) as s:
            row = await s.get(DeliverySettingsRow, key)
            if row is None:
                row = DeliverySettingsRow(tenant_key=key, language="en", timezone="Europe/Moscow")
                s.add(row)
            if "email" in given:
                row.email = body.email
            if "telegram_bot_token" in given:
                token = body.telegram_bot_token
                row.telegram_token_sealed = seal_text(self.keyring, token, _ctx(key, "telegram")) if token else None
                row.telegram_chat_id = body.telegram_chat_id
            if "sms_number" in given:
                number = body.sms_number
                row.sms_number_sealed = seal_text(self.keyring, number, _ctx(key, "sms")) if number else None
                row.sms_number_masked = mask_number(number) if number else None
            for name in ("language", "timezone"):
                if name in given and getattr(body, name) is not None:
                    setattr(row, name, getattr(body, name))
            if "quiet_start" in given:
                row.quiet_start, row.quiet_end = body.quiet_start, body.quiet_end
            row.updated_at = utcnow()
        return await self.get(tenant_id)
