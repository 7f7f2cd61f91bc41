"""SMS to the owner's mobile through the tenant's own modem line (its number policy applies)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from messages import compose
from messages.channels.base import Channel, DeliveryFailed, DeliveryRefused, Notification

# ``(tenant_id) -> send(number, text) -> the ingress actor's answer``, or None when that tenant has no line.
SenderFor = Callable[[str | None], Callable[[str, str], Awaitable[dict[str, Any]]] | None]


class SmsChannel(Channel):
    name = "sms"

    def __init__(self, sender_for: SenderFor) -> None:
        self.sender_for = sender_for

    async def send(self, note: Notification) -> None:
        number = note.channels.sms_number
        if not number:
            raise DeliveryRefused("no mobile number is set")
        send = self.sender_for(note.tenant_id)
        if send is None:
            raise DeliveryRefused("this tenant has no modem line to send SMS from")
        try:
            answer = await send(number, compose.sms_text(note.message, note.language))
        except Exception as exc:  # the actor away (restarting): try again later
            raise DeliveryFailed(f"modem: {type(exc).__name__}") from None
        error = (answer or {}).get("error")
        if error:
            if error.get("type") in ("number_refused", "invalid_request"):
                raise DeliveryRefused(f"the line refused: {error.get('message')}")
            raise DeliveryFailed(f"modem: {error.get('message')}")
