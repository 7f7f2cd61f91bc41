"""The FastAPI application and the Serve ingress deployment that hosts it."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import AsyncIterator

from fastapi import Depends, FastAPI, Request
from ray import serve

from billing.gate import build_gate
from billing.gate_http import install_usage_handlers
from deployments import handle_warmup
from deployments.ingress.auth import require_api_key
from deployments.ingress.dependencies import IngressConfig, ModelHandles, bind_models, get_models
from deployments.ingress.errors import install_error_handlers
from deployments.ingress.routes import audio, calls, chat, health, models
from deployments.ingress.usage import bind_gate
from infra import metrics
from infra.http_app import docs_urls
from infra.http_hardening import install_hardening
from infra.logging import bind_context, clear_context, configure_from_settings, get_logger
from infra.production import enforce
from infra.settings import __version__, get_settings

log = get_logger(__name__)
HTTP_LATENCY = metrics.histogram("http_request_seconds", "Ingress request latency (to response start)", ("route", "status"))


CONNECT_TIMEOUT_S = 60.0


@contextlib.asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    """Connect the model handles in the background once the replica is up, so the first call's
    first request does not stall the replica while a Serve router is built (deployments/handle_warmup.py).
    Not awaited: the models may still be loading, and the ingress must answer probes meanwhile."""
    try:
        m = get_models()
    except RuntimeError:  # an app built without the deployment (tests): nothing to connect
        yield
        return
    task = asyncio.get_running_loop().create_task(
        handle_warmup.connect(
            {
                "stt": m.stt,
                "tts": m.tts,
                "llm": m.llm,
                **{f"llm-{lang}": e["handle"] for lang, e in m.language_llms.items()},
            },
            CONNECT_TIMEOUT_S,
        )
    )
    try:
        yield
    finally:
        task.cancel()


def create_app() -> FastAPI:
    settings = get_settings()
    enforce(settings)
    app = FastAPI(
        title="secretary",
        version=__version__,
        lifespan=lifespan,
        description="OpenAI-compatible chat, speech and transcription served by Ray Serve.",
        **docs_urls(settings),
    )
    install_error_handlers(app)
    install_usage_handlers(app)
    install_hardening(app)
    app.include_router(health.router)  # probes: no credentials
    for r in (models.router, chat.router, audio.router):
        app.include_router(r, dependencies=[Depends(require_api_key)])
    app.include_router(calls.router)  # the WebSocket checks its key itself (header or ?api_key=)

    @app.middleware("http")
    async def request_context(request: Request, call_next):
        request_id = client_request_id(request.headers.get("x-request-id"))
        request.state.request_id = request_id
        # What usage is metered under: the server's own id, never the client's X-Request-ID (a
        # repeated one counted as a duplicate, so repeating it made LLM, TTS and STT use free).
        request.state.usage_id = uuid.uuid4().hex
        clear_context()
        bind_context(request_id=request_id)
        t0 = time.monotonic()
        response = await call_next(request)
        route = request.scope.get("route")
        HTTP_LATENCY.observe(
            time.monotonic() - t0, route=getattr(route, "path", "unmatched"), status=str(response.status_code)
        )
        response.headers["X-Request-ID"] = request_id
        log.info(
            "http.request",
            method=request.method,
            path=request.url.path,
            status=response.status_code,
            elapsed_ms=round((time.monotonic() - t0) * 1000, 1),
        )
        return response

    return app


REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def client_request_id(presented: str | None) -> str:
    """The client's X-Request-ID as a log tag when it is a plain token of at most 128 characters;
    otherwise (absent, over-long, odd characters) one of the server's."""
    return presented if presented and REQUEST_ID.fullmatch(presented) else uuid.uuid4().hex


app = create_app()


@serve.deployment(name="OpenAIIngress", max_ongoing_requests=64)
@serve.ingress(app)
class OpenAIIngress:
    """HTTP in, handle calls out; holds no model, so it needs (almost) no CPU of its own."""

    def __init__(self, stt, tts, llm, spec: dict | None = None, language_llms: dict | None = None) -> None:
        configure_from_settings()
        bind_models(ModelHandles(stt, tts, llm, IngressConfig.from_dict(spec), language_llms=language_llms or {}))
        gate = build_gate()
        bind_gate(gate)
        if gate is not None:
            gate.start_flusher()
