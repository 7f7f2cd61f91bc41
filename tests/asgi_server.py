"""Serve an ASGI app on a real socket inside the test's event loop.

httpx's ASGITransport buffers whole bodies, so SSE and streamed chat would arrive all at once;
the ``openai`` client also wants a URL. uvicorn on port 0 gives both.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn


@asynccontextmanager
async def serving(app) -> AsyncIterator[str]:
    """Yields the base URL (``http://127.0.0.1:<port>``) while the app serves."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
