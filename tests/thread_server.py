"""An ASGI app served by uvicorn in a background thread: the local fakes of outside services.

A thread (not the test's event loop) so that synchronous SDKs, other threads and other
processes (a Serve replica) can reach the fake too.
"""

from __future__ import annotations

import threading
import time

import uvicorn


class ThreadServer:
    def __init__(self, app, name: str) -> None:
        self.app, self.name = app, name
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.servers[0].sockets[0].getsockname()[1]

    def start_server(self, port: int = 0) -> None:
        self._server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        )
        self._thread = threading.Thread(target=self._server.run, name=self.name, daemon=True)
        self._thread.start()
        for _ in range(500):
            if self._server.started:
                return
            time.sleep(0.01)
        raise RuntimeError(f"{self.name} did not start")

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(10)
