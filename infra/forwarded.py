"""The client's address behind load balancers, believed only from proxies we trust.

Behind a balancer every request's peer is the balancer, so per-address rate limits and the
YooKassa sender check saw one address for everyone. ``X-Forwarded-For`` fixes that only if it
is not taken from anyone: a client can send its own. So the header is read only when the peer
is in ``trusted_proxies``, and then from the right: each hop appends the address it saw, so the
first address (from the right) that is not itself a trusted proxy is the client. Without
trusted proxies nothing changes.
"""

from __future__ import annotations

import ipaddress
from typing import Any


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def client_address(peer: str | None, forwarded_for: list[str], trusted: list[Any]) -> str | None:
    """The client address: ``peer`` unless it is a trusted proxy that forwarded for someone."""
    if peer is None or not trusted:
        return peer
    current = _address(peer)
    if current is None or not any(current in net for net in trusted):
        return peer  # a direct client: its own header means nothing
    hops = [hop for header in forwarded_for for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return str(current)  # garbage in the chain: stop at the last hop we could vouch for
        current = address
        if not any(address in net for net in trusted):
            return str(address)
    return str(current)


class ForwardedClientMiddleware:
    """Pure ASGI: rewrites ``scope["client"]`` for HTTP and WebSocket requests from trusted proxies."""

    def __init__(self, app: Any, trusted: list[Any]) -> None:
        self.app, self.trusted = app, trusted

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if self.trusted and scope["type"] in ("http", "websocket") and scope.get("client"):
            headers = [v.decode("latin-1") for k, v in scope.get("headers") or () if k == b"x-forwarded-for"]
            if headers:
                host, _port = scope["client"]
                real = client_address(host, headers, self.trusted)
                if real != host:
                    scope = {**scope, "client": (real, 0)}
        await self.app(scope, receive, send)
