"""A local stand-in for a cloud LLM provider that speaks OpenAI's chat-completions wire format.

The real ``openai`` client talks to it over HTTP (SSE for streams, usage in the last chunk), so
the fallback path is exercised end to end. Tests steer it: ``fail`` makes it answer 500 (or, with
``fail_mode="drop"``, cut the stream after the first words), ``requests`` counts what reached it.
It runs in a thread, so a Serve replica in another process can reach it as well.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from tests.thread_server import ThreadServer

REPLY = "This is the cloud assistant answering for the office."
API_KEY = "sk-test-cloud"


class FakeCloudLLM(ThreadServer):
    def __init__(self, reply: str = REPLY, api_key: str = API_KEY) -> None:
        self.reply, self.api_key = reply, api_key
        self.fail = False
        self.fail_mode = "500"  # "500" | "drop"
        self.requests: list[dict] = []
        super().__init__(self._build(), "fake-cloud-llm")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def completions(request: Request):
            if request.headers.get("authorization") != f"Bearer {self.api_key}":
                return JSONResponse({"error": {"message": "bad key", "type": "invalid_request_error"}}, 401)
            body = await request.json()
            self.requests.append(body)
            if self.fail and self.fail_mode == "500":
                return JSONResponse({"error": {"message": "upstream down", "type": "server_error"}}, 500)
            words = self.reply.split(" ")
            cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
            usage = {"prompt_tokens": 11, "completion_tokens": len(words), "total_tokens": 11 + len(words)}

            def chunk(delta, finish=None):
                return {
                    "id": cid,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": body["model"],
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                }

            if not body.get("stream"):
                return {
                    "id": cid,
                    "object": "chat.completion",
                    "created": created,
                    "model": body["model"],
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": self.reply}, "finish_reason": "stop"}
                    ],
                    "usage": usage,
                }

            async def events():
                yield f"data: {json.dumps(chunk({'role': 'assistant', 'content': ''}))}\n\n"
                for i, w in enumerate(words):
                    if self.fail and self.fail_mode == "drop" and i == 2:
                        return  # the connection ends mid-reply, without [DONE]
                    yield f"data: {json.dumps(chunk({'content': w if i == 0 else ' ' + w}))}\n\n"
                    await asyncio.sleep(0.005)
                yield f"data: {json.dumps(chunk({}, 'stop'))}\n\n"
                yield f"data: {json.dumps({**chunk({}), 'choices': [], 'usage': usage})}\n\n"
                yield "data: [DONE]\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")

        return app

    def start(self, port: int = 0) -> FakeCloudLLM:
        self.start_server(port)
        return self
