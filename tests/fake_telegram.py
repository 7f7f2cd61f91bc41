"""A local Telegram Bot API: ``sendMessage`` and ``sendVoice`` as the real server takes and answers
them (``/bot<token>/<method>``, form or multipart fields, ``{"ok": true, "result": Message}``), so
the real client library (pyTelegramBotAPI) talks to it unchanged."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.thread_server import ThreadServer

TOKEN = "123456789:AAE_fake-telegram-bot-token-0123456789"


@dataclass
class Sent:
    token: str
    method: str
    chat_id: str
    text: str | None
    voice: bytes | None
    duration: int | None
    at: float = 0.0  # time.time() of its arrival (benchmarks)


class FakeTelegram(ThreadServer):
    def __init__(self) -> None:
        super().__init__(self._build(), "fake-telegram")
        self.sent: list[Sent] = []
        self.fail_next = 0  # answer this many requests with a 502, as a flaky network would
        self._lock = threading.Lock()
        self._ids = 0

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.post("/bot{token}/{method}")
        async def method(token: str, method: str, request: Request):
            # The Bot API takes its fields in the query string or the body (pyTelegramBotAPI sends
            # them as query parameters, the file as multipart), as the real server does.
            form = {**request.query_params, **dict((await request.form()).items())}
            with self._lock:
                if self.fail_next > 0:
                    self.fail_next -= 1
                    return JSONResponse({"ok": False, "error_code": 502, "description": "Bad Gateway"}, 502)
            if token != TOKEN:
                return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
            if method not in ("sendMessage", "sendVoice"):
                return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found: method not found"}, 404)
            chat = str(form.get("chat_id") or "")
            if not chat:
                return JSONResponse({"ok": False, "error_code": 400, "description": "Bad Request: chat_id is empty"}, 400)
            voice = form.get("voice")
            audio = await voice.read() if voice is not None and hasattr(voice, "read") else None
            if method == "sendVoice" and not audio:
                return JSONResponse({"ok": False, "error_code": 400, "description": "Bad Request: no voice"}, 400)
            text = form.get("text") if method == "sendMessage" else form.get("caption")
            duration = int(form["duration"]) if form.get("duration") else None
            with self._lock:
                self._ids += 1
                mid = self._ids
                self.sent.append(Sent(token, method, chat, text, audio, duration, time.time()))
            result = {
                "message_id": mid,
                "date": int(time.time()),
                "chat": {"id": int(chat) if chat.lstrip("-").isdigit() else 1, "type": "private"},
            }
            if method == "sendMessage":
                result["text"] = text
            else:
                result["voice"] = {
                    "file_id": f"voice{mid}",
                    "file_unique_id": f"u{mid}",
                    "duration": duration or 1,
                    "mime_type": "audio/ogg",
                }
                if text:
                    result["caption"] = text
            return {"ok": True, "result": result}

        return app

    def start(self, port: int = 0) -> FakeTelegram:
        self.start_server(port)
        return self

    def to(self, chat_id: str) -> list[Sent]:
        with self._lock:
            return [s for s in self.sent if s.chat_id == chat_id]
