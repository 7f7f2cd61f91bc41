"""What every HTTP app of the cluster puts in front of its routes: rate limits, CORS, security headers.

- **Rate limits** (the ``limits`` library, moving windows): per client address and per
  credential (the ``Authorization`` header's hash, so each API key or session has its own
  budget whether or not it turns out valid). The windows live in Redis, shared by all replicas;
  if Redis is unreachable the limit is not applied (logged): it protects the service, and
  refusing everyone would be the outage it exists to prevent. Over the limit: 429 in the
  shared error shape with ``Retry-After``. Probes (``/healthz``, ``/readyz``) are never limited.
- **CORS**: only the origins listed in ``SECRETARY_CORS_ORIGINS``; none by default.
- **Body size**: ``max_request_bytes`` for every route (``max_audio_bytes`` and its multipart
  framing for the upload routes), checked before anything reads the body: a declared length over
  it is refused at once, and a chunked body is counted as it arrives and refused the moment it
  passes the limit. Either way 413 in the shared error shape. A 64 MB login body was read whole.
- **Security headers** on every response, errors included: no sniffing, no framing, no
  referrer, HSTS, a CSP that allows nothing (these are JSON APIs; the interactive docs pages
  get a CSP that lets them load), and ``Cache-Control: no-store`` unless a route set its own.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware

from infra.forwarded import ForwardedClientMiddleware
from infra.logging import get_logger
from infra.production import trusted_networks
from infra.settings import Settings, get_settings

log = get_logger(__name__)
EXEMPT_PATHS = ("/healthz", "/readyz", "/-/healthz", "/-/routes")
DOCS_PATHS = ("/docs", "/redoc", "/docs/oauth2-redirect")
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "strict-transport-security": "max-age=63072000; includeSubDomains",
    "cross-origin-opener-policy": "same-origin",
    "cache-control": "no-store",
}
API_CSP = "default-src 'none'; frame-ancestors 'none'"
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "frame-ancestors 'none'"
)


def moving_window(storage_uri: str | None) -> Any:
    """A moving-window limiter on Redis (every replica counts together) or, without a URI, in memory."""
    from limits.aio.storage import MemoryStorage, RedisStorage
    from limits.aio.strategies import MovingWindowRateLimiter

    storage = (
        RedisStorage(storage_uri.replace("redis://", "async+redis://", 1), implementation="redispy")
        if storage_uri
        else MemoryStorage()
    )
    return MovingWindowRateLimiter(storage)


class RateLimits:
    """Per-address and per-credential moving windows, in Redis (or memory: tests, one process)."""

    def __init__(self, per_key: str | None, per_ip: str | None, storage_uri: str | None) -> None:
        from limits import parse

        self.per_key = parse(per_key) if per_key else None
        self.per_ip = parse(per_ip) if per_ip else None
        self.storage_uri = storage_uri
        self._limiter: Any = None
        self._warned_at = 0.0

    def _strategy(self) -> Any:
        if self._limiter is None:
            self._limiter = moving_window(self.storage_uri)
        return self._limiter

    async def refusal(self, scope: dict) -> tuple[str, int, int] | None:
        """None if the request may go on; else (which limit, its size, seconds until it frees up)."""
        checks = []
        client = scope.get("client")
        if self.per_ip is not None and client:
            checks.append(("ip", self.per_ip, client[0]))
        auth = dict(scope.get("headers") or ()).get(b"authorization")
        if self.per_key is not None and auth:
            checks.append(("key", self.per_key, hashlib.sha256(auth).hexdigest()[:24]))
        try:
            limiter = self._strategy()
            for kind, item, who in checks:
                if not await limiter.hit(item, kind, who):
                    stats = await limiter.get_window_stats(item, kind, who)
                    return kind, item.amount, max(1, math.ceil(stats.reset_time - time.time()))
        except Exception as exc:  # the limiter's store is away: serve, and say so (at most once a minute)
            if time.monotonic() - self._warned_at > 60:
                self._warned_at = time.monotonic()
                log.warning("http.rate_limit_unavailable", error=type(exc).__name__)
        return None


UPLOAD_PATHS = ("/v1/audio/transcriptions",)
DATASET_PATHS = ("/finetune/jobs", "/finetune/preview")  # Telegram exports run to megabytes


class BodyTooLarge(Exception):
    """The message a refused body gets (never raised through the app: see HardeningMiddleware)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body is larger than the limit of {limit} bytes")
        self.limit = limit


def body_limit(path: str, settings: Settings) -> int:
    if path.endswith(UPLOAD_PATHS):
        return settings.max_audio_bytes + 64 * 1024  # the multipart framing around the file
    if path.endswith(DATASET_PATHS):
        return settings.max_dataset_bytes + 64 * 1024
    return settings.max_request_bytes


class HardeningMiddleware:
    """Pure ASGI (streams and WebSockets pass through untouched): limits first, headers on the way out."""

    def __init__(self, app: Any, limits: RateLimits | None, settings: Settings | None = None) -> None:
        self.app, self.limits = app, limits
        self.settings = settings or get_settings()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        csp = DOCS_CSP if path.endswith(DOCS_PATHS) else API_CSP

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                if "content-security-policy" not in headers:
                    headers["content-security-policy"] = csp
            await send(message)

        limit = body_limit(path, self.settings)
        declared = dict(scope.get("headers") or ()).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await self._error(send_with_headers, 413, str(BodyTooLarge(limit)), "invalid_request_error", "request_too_large")
            return
        if self.limits is not None and not path.endswith(EXEMPT_PATHS):
            refused = await self.limits.refusal(scope)
            if refused is not None:
                await self._too_many(send_with_headers, *refused)
                return
        received, started, refused = 0, False, False

        async def counted_receive() -> dict:
            # Past the limit the 413 goes out at once, and the app is told the client left: it stops
            # reading, and whatever it answers after that is dropped (tracked_send).
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not started:
                    refused = True
                    await self._error(
                        send_with_headers, 413, str(BodyTooLarge(limit)), "invalid_request_error", "request_too_large"
                    )
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message: dict) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send_with_headers(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except Exception:
            if not refused:
                raise

    @staticmethod
    async def _error(send: Any, status: int, message: str, kind: str, code: str) -> None:
        body = json.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    async def _too_many(send: Any, kind: str, amount: int, retry_after: int) -> None:
        who = "API key or session" if kind == "key" else "client address"
        body = json.dumps(
            {
                "error": {
                    "message": f"too many requests for this {who}: the limit is {amount} per window; "
                    f"retry in {retry_after} s",
                    "type": "rate_limit_error",
                    "param": None,
                    "code": "rate_limit_exceeded",
                }
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry_after).encode()),
                    (b"x-ratelimit-limit", str(amount).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def install_hardening(app: Any, settings: Settings | None = None, rate_limited: bool = True) -> None:
    """Rate limits and security headers inside, CORS outside (a preflight is answered before limits).

    ``rate_limited=False`` for an app of static files (the console): the limits share one count per
    client across the cluster's apps, so each page's dozen files would eat the budget its API calls
    need, and serving a file costs nothing worth protecting."""
    settings = settings or get_settings()
    limits = None
    if rate_limited and (settings.rate_limit_per_key or settings.rate_limit_per_ip):
        limits = RateLimits(
            settings.rate_limit_per_key or None, settings.rate_limit_per_ip or None, settings.redis_url or None
        )
    app.add_middleware(HardeningMiddleware, limits=limits, settings=settings)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_credentials=False,
        allow_methods=["GET", "POST", "PUT", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
        expose_headers=["X-Request-ID", "X-Reply-Source", "X-Sample-Rate", "Retry-After"],
        max_age=600,
    )
    trusted = trusted_networks(settings.trusted_proxies)
    if trusted:  # outermost: rate limits, CORS and the routes all see the real client
        app.add_middleware(ForwardedClientMiddleware, trusted=trusted)
