"""A local stand-in for YooKassa's API v3 (payments), enough for the real ``yookassa`` SDK."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.thread_server import ThreadServer

SHOP_ID, SECRET = "123456", "test_secret_key"


class FakeYooKassa(ThreadServer):
    def __init__(self) -> None:
        self.payments: dict[str, dict] = {}
        self.requests: list[tuple[str, str, str | None]] = []  # method, path, Idempotence-Key
        self._by_key: dict[str, dict] = {}
        super().__init__(self._build(), "fake-yookassa")

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v3"

    def _build(self) -> FastAPI:
        app = FastAPI()
        expected = "Basic " + base64.b64encode(f"{SHOP_ID}:{SECRET}".encode()).decode()

        @app.middleware("http")
        async def auth(request: Request, call_next):
            self.requests.append((request.method, request.url.path, request.headers.get("idempotence-key")))
            if request.headers.get("authorization") != expected:
                return JSONResponse({"type": "error", "code": "invalid_credentials"}, 401)
            return await call_next(request)

        @app.post("/v3/payments")
        async def create(request: Request):
            key = request.headers.get("idempotence-key")
            if key in self._by_key:
                return self._by_key[key]
            body = await request.json()
            pid = str(uuid.uuid4())
            payment = {
                "id": pid,
                "status": "pending",
                "paid": False,
                "amount": body["amount"],
                "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                "description": body.get("description"),
                "metadata": body.get("metadata", {}),
                "recipient": {"account_id": SHOP_ID, "gateway_id": "1"},
                "refundable": False,
                "test": True,
            }
            if body.get("confirmation"):
                payment["confirmation"] = {"type": "redirect", "confirmation_url": f"https://yoomoney.test/checkout/{pid}"}
            if body.get("payment_method_id"):
                payment["payment_method"] = {"type": "bank_card", "id": body["payment_method_id"], "saved": True}
            self.payments[pid] = payment
            self._by_key[key] = payment
            return payment

        @app.get("/v3/payments/{pid}")
        async def find(pid: str):
            if pid not in self.payments:
                return JSONResponse({"type": "error", "code": "not_found"}, 404)
            return self.payments[pid]

        return app

    def settle(self, pid: str, status: str = "succeeded", saved_method: str | None = None) -> None:
        """What happens at YooKassa when the customer pays (or the bank refuses)."""
        p = self.payments[pid]
        p["status"], p["paid"] = status, status == "succeeded"
        if saved_method:
            p["payment_method"] = {"type": "bank_card", "id": saved_method, "saved": True}

    def start(self) -> FakeYooKassa:
        self.start_server()
        return self
