"""Which numbers the secretary may call or text, and how often.

Numbers are normalised to E.164 with Google's libphonenumber metadata (the ``phonenumbers``
package), which also classifies them: premium-rate numbers are refused by type, so Russia's
8-809 and 8-803 ranges are blocked while 8-900 (an ordinary mobile range) is not. Explicit
per-country prefix lists back the metadata up, and allow/deny lists and rate limits come from
configuration. Every refusal says why and is logged with the number masked.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import phonenumbers
from phonenumbers import PhoneNumberType

from infra.logging import get_logger

log = get_logger(__name__)

BLOCKED_TYPES = {
    PhoneNumberType.PREMIUM_RATE: "premium-rate number",
    PhoneNumberType.SHARED_COST: "shared-cost number",
}
# Belt and braces over the metadata: premium ranges per country, as E.164 prefixes.
# Russia: 8-809 and 8-803 are content-service (premium) ranges in the Russian numbering plan.
DEFAULT_PREMIUM_PREFIXES = {"RU": ["+7809", "+7803"], "KZ": ["+7709"]}


class PolicyRefusal(ValueError):
    """The number or the rate is not allowed; ``reason`` is a short machine-readable tag."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class NumberPolicyConfig:
    default_region: str = "RU"
    allow_prefixes: list[str] = field(default_factory=list)  # empty: every number not denied
    deny_prefixes: list[str] = field(default_factory=list)
    premium_prefixes: dict[str, list[str]] = field(default_factory=lambda: dict(DEFAULT_PREMIUM_PREFIXES))
    dials_per_hour: int = 30
    sms_per_hour: int = 30


_DIALLABLE = re.compile(r"\+?[0-9][0-9 ().-]{2,30}")


class RateLimiter:
    """A sliding window: at most ``limit`` events in any ``window_s`` seconds."""

    def __init__(self, limit: int, window_s: float = 3600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window_s, self.clock = limit, window_s, clock
        self._events: deque[float] = deque()

    def try_acquire(self) -> bool:
        now = self.clock()
        while self._events and now - self._events[0] >= self.window_s:
            self._events.popleft()
        if len(self._events) >= self.limit:
            return False
        self._events.append(now)
        return True


class NumberPolicy:
    def __init__(self, config: NumberPolicyConfig | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config or NumberPolicyConfig()
        self._limits = {
            "dial": RateLimiter(self.config.dials_per_hour, clock=clock),
            "sms": RateLimiter(self.config.sms_per_hour, clock=clock),
        }

    def normalise(self, raw: str) -> str:
        """E.164 for a valid number, else :class:`PolicyRefusal` (``invalid_number``)."""
        if not isinstance(raw, str) or len(raw) > 32:
            raise PolicyRefusal("invalid_number", "not a phone number")
        if not _DIALLABLE.fullmatch(raw):
            # libphonenumber would pull a number out of "ATD+7916…;": anything but a number is refused.
            raise PolicyRefusal("invalid_number", "a phone number has only digits, spaces, + - ( ) and .")
        try:
            parsed = phonenumbers.parse(raw, self.config.default_region)
        except phonenumbers.NumberParseException:
            raise PolicyRefusal("invalid_number", "not a phone number") from None
        if not phonenumbers.is_valid_number(parsed):
            raise PolicyRefusal("invalid_number", "not a valid phone number")
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)

    def _check_number(self, e164: str) -> None:
        cfg = self.config
        parsed = phonenumbers.parse(e164)
        kind = phonenumbers.number_type(parsed)
        if kind in BLOCKED_TYPES:
            raise PolicyRefusal("premium_rate", f"refused: {BLOCKED_TYPES[kind]}")
        region = phonenumbers.region_code_for_number(parsed)
        if any(e164.startswith(p) for p in cfg.premium_prefixes.get(region or "", [])):
            raise PolicyRefusal("premium_rate", "refused: premium-rate prefix")
        if any(e164.startswith(p) for p in cfg.deny_prefixes):
            raise PolicyRefusal("denied", "refused: the number is on the deny list")
        if cfg.allow_prefixes and not any(e164.startswith(p) for p in cfg.allow_prefixes):
            raise PolicyRefusal("not_allowed", "refused: the number is not on the allow list")

    def authorise(self, action: str, raw: str) -> str:
        """Check ``raw`` for ``action`` ("dial" or "sms"); returns its E.164 form or raises."""
        try:
            e164 = self.normalise(raw)
            self._check_number(e164)
            if not self._limits[action].try_acquire():
                raise PolicyRefusal("rate_limited", f"refused: too many {action} requests this hour")
        except PolicyRefusal as exc:
            log.warning("telephony.number_refused", action=action, reason=exc.reason, pii_number=raw)
            raise
        return e164
