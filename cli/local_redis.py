"""A redis-server for a local cluster (and the tests): append-only file on, as production runs it.

The local cluster needs Redis for usage metering and rate limits. When the configured URL is
local and nothing answers there, ``LocalCluster`` starts one of these with its data in
``var/redis``, so usage counted in one run is still there in the next.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def redis_answers(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


class LocalRedis:
    def __init__(self, port: int, data_dir: Path) -> None:
        self.port, self.dir = port, Path(data_dir)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @classmethod
    def for_url(cls, url: str, data_dir: Path) -> LocalRedis | None:
        """A server to start for ``url``: None when the URL is not local or something answers there."""
        parsed = urlparse(url)
        port = parsed.port or 6379
        if parsed.hostname not in LOCAL_HOSTS or redis_answers("127.0.0.1", port):
            return None
        return cls(port, data_dir)

    def start(self, timeout_s: float = 15.0) -> None:
        binary = shutil.which("redis-server")
        if not binary:
            raise RuntimeError("redis-server is not installed (make system-deps installs it)")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
                "--appendonly",
                "yes",
                "--save",
                "",
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if redis_answers("127.0.0.1", self.port):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
