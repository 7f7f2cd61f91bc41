"""The message desk as an app runs it: built from the profile's ``messages`` block, its channels
from the settings, its models through Serve handles, run every ``messages_interval_s``.

The admin app hosts it (one more loop in a replica that is mostly idle); several replicas may run
it at once, since the desk and the outbox claim their work in the database.
"""

from __future__ import annotations

from typing import Any

from infra.logging import get_logger
from infra.mail import SmtpConfig
from infra.periodic import Periodic
from infra.recordings import RecordingStore
from infra.settings import get_settings
from messages.channels.email import EmailChannel
from messages.channels.sms import SmsChannel
from messages.channels.telegram import TelegramChannel
from messages.desk import MessageDesk, handle_complete
from messages.outbox import Outbox

log = get_logger(__name__)


def build_desk(spec: dict[str, Any], send_sms: Any = None) -> tuple[MessageDesk, Periodic]:
    """``spec``: ``{app_name, language_llms: {lang: deployment}, llm: deployment}``; ``send_sms``:
    ``async (number, text) -> dict``, the modem line's (it belongs to ``SECRETARY_MODEM_TENANT``)."""
    settings = get_settings()
    line_tenant = settings.modem_tenant

    def sender_for(tenant_id: str | None):
        return send_sms if send_sms is not None and (tenant_id or None) == (line_tenant or None) else None

    async def ended_at(call_id: str):
        from infra.database import session_factory
        from telephony.call_store import CallRow

        async with session_factory()() as s:
            row = await s.get(CallRow, call_id)
            return row.ended_at if row is not None else None

    outbox = Outbox(
        {
            "email": EmailChannel(SmtpConfig.from_settings(settings), settings.public_url),
            "telegram": TelegramChannel(settings.telegram_api_url),
            "sms": SmsChannel(sender_for),
        },
        max_attempts=settings.delivery_max_attempts,
        backoff_s=settings.delivery_backoff_s,
        lease_s=settings.delivery_lease_s,
        recordings=RecordingStore(),
        ended_at=ended_at,
    )
    handles: dict[str, Any] = {}

    def complete_for(language: str):
        if spec.get("llm") is None and not spec.get("app_name"):
            return None  # no model configured: the rules take the message
        from ray import serve

        name = (spec.get("language_llms") or {}).get(language, spec.get("llm", "LLMServer"))
        if name not in handles:
            handles[name] = serve.get_deployment_handle(name, app_name=spec.get("app_name", "secretary"))
        return handle_complete(handles[name])

    def personas(tenant_id: str | None):
        from personas.registry import PersonaRegistry

        return PersonaRegistry(tenant_id=tenant_id, models_dir=settings.models_dir, with_shared=True)

    desk = MessageDesk(outbox, complete_for, personas=personas)
    return desk, Periodic("message-desk", desk.run_once, settings.messages_interval_s)
