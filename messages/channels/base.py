"""The notification channel interface and the two ways a delivery can fail."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from messages.delivery_settings import Channels


class DeliveryFailed(Exception):
    """Sending failed; the outbox tries again later (a server away, a refusal that may pass)."""


class DeliveryRefused(DeliveryFailed):
    """Sending cannot succeed as configured (no line for SMS, a wrong bot token): no retry."""


@dataclass
class Notification:
    """One message on its way to one channel. ``recording`` loads the call's audio (WAV) or None."""

    delivery_id: int
    tenant_id: str | None
    message: dict[str, Any]
    channels: Channels
    recording: Callable[[], Awaitable[bytes | None]]

    @property
    def language(self) -> str:
        return self.channels.language


class Channel(ABC):
    name: str

    @abstractmethod
    async def send(self, note: Notification) -> None:
        """Deliver, or raise ``DeliveryFailed`` / ``DeliveryRefused``."""
