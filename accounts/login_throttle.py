"""Failed sign-ins are limited per account, not only per address.

The per-address rate limit does not stop a password guesser who spreads guesses over many
addresses. After ``attempts`` failed sign-ins for one e-mail within the window, that account's
sign-in answers 429 with ``Retry-After`` until the window frees up, even with the right password
(otherwise the guesser learns when a guess is right). A success clears the count. Counts live in
Redis (every replica sees them) or in memory for one process; the e-mail is hashed in the key.
If the store is away, sign-in goes on and a warning is logged, as for the other rate limits.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

from infra.logging import get_logger

log = get_logger(__name__)


class LoginThrottle:
    def __init__(self, attempts: str = "5/15minutes", storage_uri: str | None = None) -> None:
        from limits import parse

        self.item = parse(attempts)
        self.storage_uri = storage_uri
        self._limiter: Any = None

    def _strategy(self) -> Any:
        if self._limiter is None:
            from infra.http_hardening import moving_window

            self._limiter = moving_window(self.storage_uri)
        return self._limiter

    @staticmethod
    def _who(email: str) -> str:
        return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]

    async def retry_after(self, email: str) -> int | None:
        """Seconds until this account may try again, or None if it may try now."""
        try:
            limiter = self._strategy()
            if await limiter.test(self.item, "login", self._who(email)):
                return None
            stats = await limiter.get_window_stats(self.item, "login", self._who(email))
            return max(1, math.ceil(stats.reset_time - time.time()))
        except Exception as exc:
            log.warning("auth.login_throttle_unavailable", error=type(exc).__name__)
            return None

    async def failed(self, email: str) -> None:
        try:
            await self._strategy().hit(self.item, "login", self._who(email))
        except Exception as exc:
            log.warning("auth.login_throttle_unavailable", error=type(exc).__name__)

    async def succeeded(self, email: str) -> None:
        try:
            await self._strategy().clear(self.item, "login", self._who(email))
        except Exception as exc:
            log.warning("auth.login_throttle_unavailable", error=type(exc).__name__)
