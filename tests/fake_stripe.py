"""A local stand-in for Stripe's API, enough for the real ``stripe`` SDK: objects by id, Checkout.

Tests set the truth (``subscriptions[id] = {...}``) and read what was asked of it (``requests``,
with the idempotency keys). Runs in a thread; the SDK is pointed at it with ``base_addresses``.
"""

from __future__ import annotations

import time
import uuid

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.thread_server import ThreadServer

API_KEY = "sk_test_fake"


class FakeStripe(ThreadServer):
    def __init__(self) -> None:
        self.subscriptions: dict[str, dict] = {}
        self.sessions: dict[str, dict] = {}
        self.invoices: dict[str, dict] = {}
        self.requests: list[tuple[str, str, str | None]] = []  # method, path, idempotency key
        self._by_key: dict[str, dict] = {}
        super().__init__(self._build(), "fake-stripe")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _build(self) -> FastAPI:
        app = FastAPI()

        def missing(kind: str, oid: str) -> JSONResponse:
            return JSONResponse(
                {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "resource_missing",
                        "message": f"No such {kind}: '{oid}'",
                    }
                },
                404,
            )

        @app.middleware("http")
        async def auth(request: Request, call_next):
            self.requests.append((request.method, request.url.path, request.headers.get("idempotency-key")))
            if request.headers.get("authorization") != f"Bearer {API_KEY}":
                return JSONResponse({"error": {"type": "invalid_request_error", "message": "Invalid API Key"}}, 401)
            return await call_next(request)

        @app.get("/v1/subscriptions/{sid}")
        async def subscription(sid: str):
            return self.subscriptions.get(sid) or missing("subscription", sid)

        @app.post("/v1/subscriptions/{sid}")
        async def update_subscription(sid: str, request: Request):
            sub = self.subscriptions.get(sid)
            if sub is None:
                return missing("subscription", sid)
            form = await request.form()
            if "cancel_at_period_end" in form:
                sub["cancel_at_period_end"] = form["cancel_at_period_end"] == "true"
            return sub

        @app.get("/v1/checkout/sessions/{sid}")
        async def session(sid: str):
            return self.sessions.get(sid) or missing("checkout.session", sid)

        @app.get("/v1/invoices/{iid}")
        async def invoice(iid: str):
            return self.invoices.get(iid) or missing("invoice", iid)

        @app.post("/v1/checkout/sessions")
        async def create_session(request: Request):
            key = request.headers.get("idempotency-key")
            if key and key in self._by_key:
                return self._by_key[key]
            form = await request.form()
            sid = f"cs_test_{uuid.uuid4().hex[:12]}"
            obj = {
                "id": sid,
                "object": "checkout.session",
                "mode": form.get("mode"),
                "client_reference_id": form.get("client_reference_id"),
                "subscription": None,
                "url": f"https://checkout.stripe.test/pay/{sid}",
                "price": form.get("line_items[0][price]"),
                "success_url": form.get("success_url"),
                "cancel_url": form.get("cancel_url"),
            }
            self.sessions[sid] = obj
            if key:
                self._by_key[key] = obj
            return obj

        return app

    def subscription(
        self, sid: str, tenant: str, status: str, price: str = "price_pro_monthly", created: int | None = None
    ) -> dict:
        """A subscription in the shape of the API version the pinned SDK speaks (2025-03-31.basil and
        later): the billing period is on the items only, never on the subscription itself."""
        now = int(time.time())
        self.subscriptions[sid] = {
            "id": sid,
            "object": "subscription",
            "status": status,
            "created": created or now,
            "metadata": {"tenant_id": tenant},
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": "si_" + sid,
                        "object": "subscription_item",
                        "price": {"id": price, "object": "price"},
                        "current_period_start": now,
                        "current_period_end": now + 30 * 86400,
                    }
                ],
            },
        }
        return self.subscriptions[sid]

    def start(self) -> FakeStripe:
        self.start_server()
        return self
