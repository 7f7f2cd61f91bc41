"""The admin FastAPI app and its Serve deployment (an application of its own at ``/admin``).

It reads call and SMS records from the database and drives the modem through the ingress actor,
which the deployment creates (or finds) on start when the profile enables a modem.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from ray import serve

from admin.dependencies import ModemClient, bind, bind_lines
from admin.line_pool import LinePool
from admin.line_watch import LineWatch
from admin.routes import calls, finetune, health, lines, live, messages, modem, personas, sms, usage
from billing.gate import build_gate
from billing.gate_http import install_usage_handlers
from infra.database import upgrade_blocking
from infra.http_app import service_app
from infra.logging import configure_from_settings, get_logger
from infra.settings import PROJECT_ROOT, get_settings
from telephony.call_store import CallStore
from telephony.lines import LineRegistry

log = get_logger(__name__)


def create_app() -> FastAPI:
    app = service_app(
        "secretary admin",
        "Calls, SMS and the modem. Every route needs the admin credentials.",
        (
            health.router,
            calls.router,
            modem.router,
            lines.router,
            live.router,
            sms.router,
            personas.router,
            usage.router,
            finetune.router,
            messages.router,
        ),
    )
    install_usage_handlers(app)  # a persona over the plan's voices is the gate's 402
    return app


app = create_app()


@serve.deployment(name="AdminApi", max_ongoing_requests=64)
@serve.ingress(app)
class AdminApi:
    def __init__(self, spec: dict[str, Any] | None = None) -> None:
        configure_from_settings()
        self.spec = spec or {}
        modem_spec = self.spec.get("modem") or {}
        client = None
        self.line_watch: LineWatch | None = None
        if modem_spec.get("enabled"):
            from telephony.ingress_actor import LINE, get_or_create

            client = ModemClient(get_or_create(modem_spec))
            line_store = CallStore(tenant_id=get_settings().modem_tenant, line=modem_spec.get("line", LINE))
            self.line_watch = LineWatch(client.actor, line_store)
        bind(CallStore(), client, gate=build_gate())
        # The registered lines (telephony/lines.py), each with its own actor on its modem's node.
        self.lines = LinePool(LineRegistry(), modem_spec) if modem_spec.get("enabled") else None
        bind_lines(self.lines)

        self.modem = client
        if client is not None:
            client.actor.status.remote()  # bring the ingress up now rather than on the first request
        self.desk = None
        messages_spec = self.spec.get("messages")
        if messages_spec is not None:
            from messages.host import build_desk

            send_sms = (lambda number, text: client.actor.send_sms.remote(number, text)) if client is not None else None
            messages_spec = {
                "app_name": modem_spec.get("app_name"),
                "language_llms": modem_spec.get("language_llms"),
                **messages_spec,
            }
            _, self.desk = build_desk(messages_spec, send_sms)

    async def check_health(self) -> None:
        """Serve's periodic health check doubles as the ingress keep-alive: after Ray restarts the
        actor, this first call brings the ingress back up. Fire and forget: the admin API stays
        healthy (it still serves the call history) while the modem is away. It also starts the
        message desk's loop in the replica's event loop (once)."""
        if self.desk is not None:
            self.desk.start()
        if self.modem is not None:
            self.modem.actor.status.remote()
        if self.line_watch is not None:
            try:
                await self.line_watch.check()  # a lost line's calls end now (admin/line_watch.py)
            except Exception as exc:  # the database away: next round; the admin API stays healthy
                log.warning("line_watch.failed", error=type(exc).__name__)
        if self.lines is not None:
            try:
                await self.lines.sync()  # registered lines: started, changed, retired, watched
            except Exception as exc:
                log.warning("lines.sync_failed", error=type(exc).__name__)


def build_admin_app(args: dict[str, Any]) -> serve.Application:
    upgrade_blocking()  # the schema is current before any replica serves
    seed = args.get("personas_seed")
    if seed:
        seed_personas(PROJECT_ROOT / seed)
    return AdminApi.bind(args)


def seed_personas(path) -> list[str]:
    """Insert the seed file's missing personas (from sync code, possibly under a running loop)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from personas.registry import PersonaRegistry

    with ThreadPoolExecutor(1) as pool:
        added = pool.submit(asyncio.run, PersonaRegistry().seed(path)).result()
    if added:
        log.info("personas.seeded", names=added)
    return added
