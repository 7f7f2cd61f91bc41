"""The modem ingress as a named, restartable Ray actor, placed on the node that has the modem.

The node that has the SIM7600 plugged in advertises a custom resource (``modem: 1``, e.g.
``ray start --resources='{"modem": 1}'`` or ``RAY_OVERRIDE_RESOURCES``); the actor asks for it, so
Ray puts it there and nowhere else. It is detached and restarted by Ray if it dies; the first
call after a (re)start brings the ingress up, and dangling call rows are closed then.

The actor reaches the model deployments through Serve handles, like any other client: the
pipeline does not know it runs behind a modem. Errors a caller of the actor must tell apart
come back as ``{"error": {"type", "message"}}`` rather than as exceptions, which keeps them intact
across the process boundary.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, replace
from typing import Any

import ray

from billing.gate import build_gate
from deployments import handle_warmup
from deployments.llm.engine import SamplingOptions
from infra.database import upgrade
from infra.logging import configure_from_settings, get_logger
from infra.process_priority import set_process_niceness
from infra.production import enforce
from infra.settings import get_settings
from personas.registry import PersonaRegistry
from personas.responder import build_responder
from pipeline.services import CallServices, HandleSynthesizer, HandleTranscriber
from privacy.service import PrivacyService
from screening.front_door import FrontDoor
from telephony.at_client import ATError, ATTimeout, PortClosed
from telephony.at_commands import CommandRejected
from telephony.call_store import CallStore
from telephony.lines import line_resource
from telephony.modem_ingress import LineBusy, ModemIngress, ModemIngressConfig
from telephony.number_policy import NumberPolicy, NumberPolicyConfig, PolicyRefusal
from telephony.port_discovery import ModemNotFound, ModemPorts, resolve_ports

log = get_logger(__name__)
ACTOR_NAME = "modem-ingress"
NAMESPACE = "secretary"
MODEM_RESOURCE = "modem"
LINE = "modem"  # the calls table's name for the profile's one modem line


def _error(kind: str, exc: BaseException) -> dict[str, Any]:
    return {"error": {"type": kind, "message": str(exc) or type(exc).__name__}}


class ModemIngressActor:
    def __init__(self, spec: dict[str, Any]) -> None:
        configure_from_settings()
        enforce(get_settings())  # a line answering callers with development secrets is refused, not warned
        self.spec = spec
        self.ingress: ModemIngress | None = None
        self._starting: asyncio.Task | None = None
        self.start_error: str | None = None

    async def _ensure(self) -> ModemIngress:
        if self.ingress is None:
            if self._starting is None or self._starting.done():
                self._starting = asyncio.get_running_loop().create_task(self._start())
            await asyncio.shield(self._starting)
        assert self.ingress is not None
        return self.ingress

    async def _start(self) -> None:
        from ray import serve

        settings = get_settings()
        spec = self.spec
        line = spec.get("line")  # a registered line (telephony/lines.py): its IMEI, tenant and persona
        try:
            if line:
                ports = self._line_ports(line, settings)
            else:
                ports = resolve_ports(settings.modem_at_port, settings.modem_audio_port)
        except ModemNotFound as exc:
            self.start_error = str(exc)
            raise
        config = ModemIngressConfig.from_dict(spec.get("ingress"))
        if line:
            config = replace(config, persona=line["persona"])
        if config.nice is not None:
            # The whole process, before it starts helper threads (the handles' router loop among
            # them): they inherit it, and any of them may hold the GIL the pacer's loop needs next.
            niceness = set(set_process_niceness(config.nice).values())
            log.info("ingress.process_niceness", niceness=sorted(niceness), wanted=config.nice)
        app = spec.get("app_name", "secretary")
        stt = serve.get_deployment_handle("STTServer", app_name=app)
        llm = serve.get_deployment_handle("LLMServer", app_name=app)
        tts = serve.get_deployment_handle("TTSServer", app_name=app)
        # The models of other languages' personas, by their deployment names (the app's language_llms).
        language_llms = {
            lang: serve.get_deployment_handle(name, app_name=app) for lang, name in (spec.get("language_llms") or {}).items()
        }
        registry = PersonaRegistry(models_dir=settings.models_dir)
        # The persona's FAQ, adapter, cloud fallback and apology: the same chain as /v1/chat.
        responder = build_responder(
            llm,
            spec.get("responder"),
            spec.get("cloud"),
            asdict(SamplingOptions(**spec.get("llm_options", {}))),
            registry,
            language_llms,
        )
        services = CallServices(
            HandleTranscriber(stt, spec.get("stt_model")), responder, HandleSynthesizer(tts, spec.get("voice") or "joe")
        )
        await upgrade()
        # Before the modem can ring: a handle's first request stalls this process (and its pacer).
        await handle_warmup.connect(
            {"stt": stt, "llm": llm, "tts": tts, **{f"llm-{lang}": h for lang, h in language_llms.items()}},
            config.ready_timeout_s,
        )
        policy = NumberPolicy(NumberPolicyConfig(**spec.get("number_policy", {})))
        # One modem, one tenant's line: its calls and minutes are that tenant's.
        tenant = line["tenant_id"] if line else settings.modem_tenant
        gate = build_gate(settings) if tenant else None
        if gate is not None:
            gate.start_flusher()
        ingress = ModemIngress(
            ports.at,
            ports.audio,
            services,
            CallStore(tenant_id=tenant, line=line["imei"] if line else LINE),
            config=config,
            policy=policy,
            personas=registry,
            allowance_for=(lambda call_id: gate.allowance(tenant, call_id)) if gate else None,
            recording_allowed=PrivacyService(tenant_id=tenant).recording_allowed,
            front_door=FrontDoor(tenant_id=tenant),
        )
        await ingress.start()
        self.ingress = ingress
        self.start_error = None
        log.info("ingress.started", at_port=ports.at, audio_port=ports.audio)

    @staticmethod
    def _line_ports(line: dict[str, Any], settings) -> ModemPorts:
        """The registered line's ports on this node, by its IMEI (``SECRETARY_MODEM_LINES``)."""
        mapped = settings.modem_lines.get(line["imei"])
        if not mapped:
            known = ", ".join(sorted(settings.modem_lines)) or "none"
            raise ModemNotFound(f"line {line['imei']} is not on this node (its modems: {known}): `secretary node modems`")
        return ModemPorts(mapped["at"], mapped["audio"])

    # ---- the actor's API (used by the admin app) ---------------------------------------------
    async def status(self) -> dict[str, Any]:
        try:
            ingress = await self._ensure()
        except ModemNotFound as exc:
            return {"modem": "not_found", "error": str(exc), "call": None}
        return ingress.status()

    async def modem_status(self) -> dict[str, Any]:
        try:
            return await (await self._ensure()).modem_status()
        except (ATError, ATTimeout, PortClosed, ModemNotFound) as exc:
            return _error("modem_unavailable", exc)

    async def diagnostic(self, name: str) -> dict[str, Any]:
        try:
            return {"lines": await (await self._ensure()).diagnostic(name)}
        except CommandRejected as exc:
            return _error("invalid_request", exc)
        except (ATError, ATTimeout, PortClosed, ModemNotFound) as exc:
            return _error("modem_unavailable", exc)

    async def dial(self, number: str, greeting: str | None = None) -> dict[str, Any]:
        try:
            return {"call_id": await (await self._ensure()).dial(number, greeting)}
        except (PolicyRefusal, CommandRejected) as exc:
            return _error("number_refused", exc)
        except LineBusy as exc:
            return _error("line_busy", exc)
        except (ATError, ATTimeout, PortClosed, ModemNotFound) as exc:
            return _error("modem_unavailable", exc)

    async def hang_up(self, call_id: str | None = None) -> dict[str, Any]:
        return {"hung_up": await (await self._ensure()).hang_up(call_id)}

    async def send_sms(self, number: str, text: str) -> dict[str, Any]:
        try:
            return {"reference": await (await self._ensure()).send_sms(number, text)}
        except (PolicyRefusal, CommandRejected) as exc:
            return _error("number_refused" if isinstance(exc, PolicyRefusal) else "invalid_request", exc)
        except (ATError, ATTimeout, PortClosed, ModemNotFound) as exc:
            return _error("modem_unavailable", exc)

    async def stop(self, timeout_s: float = 15.0) -> dict[str, Any]:
        """Drain and close the line (shutdown, redeploy): the call in progress ends in words within
        ``timeout_s``, ringing calls are declined, then the modem's ports are released. Called by
        ``secretary line stop`` (the modem pod's preStop hook, ``LocalCluster.stop``)."""
        if self.ingress is None:
            return {"stopped": True, "call": None}
        drained = await self.ingress.drain(timeout_s)
        await self.ingress.stop()
        self.ingress = None
        log.info("ingress.stopped", **drained)
        return {"stopped": True, **drained}

    async def events(self, after: int, timeout_s: float = 15.0) -> list[dict[str, Any]]:
        ingress = await self._ensure()
        return [e.as_dict() for e in await ingress.events.wait(after, min(timeout_s, 30.0))]


def line_actor_name(imei: str | None) -> str:
    return ACTOR_NAME if imei is None else f"{ACTOR_NAME}-{imei}"


def _find_line(address: str, imei: str | None):
    """The running actor of a line (the profile's, or the registered one with ``imei``), or None."""
    ray.init(address=address, namespace=NAMESPACE, log_to_driver=False, ignore_reinit_error=True)
    try:
        return ray.get_actor(line_actor_name(imei), namespace=NAMESPACE)
    except ValueError:
        return None


def stop_line(address: str = "auto", timeout_s: float = 15.0, imei: str | None = None) -> dict[str, Any] | None:
    """Drain a line and remove its actor for good (no restart); None: no such line runs."""
    actor = _find_line(address, imei)
    if actor is None:
        return None
    result = ray.get(actor.stop.remote(timeout_s), timeout=timeout_s + 15)
    ray.kill(actor, no_restart=True)
    return result


def line_status(address: str = "auto", imei: str | None = None, timeout_s: float = 10.0) -> dict[str, Any]:
    """A line's status for a probe: ``{"modem": "ready" | "connecting" | "not_found" | "absent"}``."""
    actor = _find_line(address, imei)
    if actor is None:
        return {"modem": "absent"}
    try:
        return ray.get(actor.status.remote(), timeout=timeout_s)
    except Exception as exc:  # restarting, or its node is gone
        return {"modem": "unavailable", "error": type(exc).__name__}


def get_or_create(spec: dict[str, Any], line: dict[str, Any] | None = None):
    """The ingress actor of the profile's line, or of the registered ``line`` (created on first use,
    then found by name). A registered line's actor asks for ``line_<IMEI>``: only the node that
    has that modem advertises it."""
    if line is not None:
        spec = {**spec, "line": line}
    resource = line_resource(line["imei"]) if line is not None else MODEM_RESOURCE
    remote = ray.remote(ModemIngressActor).options(
        name=line_actor_name(line["imei"] if line is not None else None),
        namespace=NAMESPACE,
        get_if_exists=True,
        lifetime="detached",
        max_restarts=-1,
        max_task_retries=0,
        num_cpus=0,
        resources={resource: 1},
        max_concurrency=64,
    )
    return remote.remote(spec)
