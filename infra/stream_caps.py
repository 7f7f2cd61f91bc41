"""Long-lived connections (WebSockets, server-sent events) are capped per tenant on each replica.

A replica serves a bounded number of requests at once (Serve's ``max_ongoing_requests``), and
an open WebSocket or event stream holds one of them for as long as it stays open. Without a
cap, one tenant's few dozen idle sockets took ``/v1`` down for everybody. Each replica now lets
one tenant hold at most ``per_tenant`` such connections (the next is refused with a clear
reason: WebSocket close 1013 "try again later", HTTP 429), and the routes close connections
that stay idle past their timeout. Counting is per replica, in memory: a refusal must never
wait on a store, and a crashed replica's count dies with its connections.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


class TooManyStreams(Exception):
    """The tenant already holds as many long-lived connections on this replica as it may."""

    def __init__(self, key: str, limit: int) -> None:
        super().__init__(f"this account already has {limit} open streaming connections; close one and retry")
        self.key, self.limit = key, limit


class StreamCaps:
    def __init__(self, per_tenant: int) -> None:
        if per_tenant < 1:
            raise ValueError("per_tenant must be at least 1")
        self.per_tenant = per_tenant
        self._open: dict[str, int] = {}

    def open_for(self, key: str) -> int:
        return self._open.get(key, 0)

    @contextlib.contextmanager
    def hold(self, key: str) -> Iterator[None]:
        """Count one connection of ``key`` (a tenant id) while the block runs; ``TooManyStreams`` if full."""
        if self._open.get(key, 0) >= self.per_tenant:
            raise TooManyStreams(key, self.per_tenant)
        self._open[key] = self._open.get(key, 0) + 1
        try:
            yield
        finally:
            left = self._open[key] - 1
            if left:
                self._open[key] = left
            else:
                del self._open[key]


_caps: dict[str, StreamCaps] = {}


def stream_caps(name: str, per_tenant: int) -> StreamCaps:
    """The replica's caps for one kind of stream (one instance per name and process)."""
    caps = _caps.get(name)
    if caps is None or caps.per_tenant != per_tenant:
        caps = _caps[name] = StreamCaps(per_tenant)
    return caps
