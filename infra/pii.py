"""Personal data helpers: masked display forms and keyed lookup hashes for phone numbers.

A number is stored only masked (for people) and as an HMAC (for machines: "all calls from this
subject", deletion requests), never in clear, so a database dump does not leak who called.
"""

from __future__ import annotations

import hashlib
import hmac

from infra.settings import get_settings


def mask_number(number: str | None) -> str:
    """``+79161234567`` -> ``+7916***4567``: enough to recognise, not enough to dial."""
    if not number:
        return "unknown"
    digits = number.lstrip("+")
    prefix = "+" if number.startswith("+") else ""
    if len(digits) <= 6:
        return prefix + "*" * len(digits)
    return f"{prefix}{digits[:4]}{'*' * (len(digits) - 8) if len(digits) > 8 else '***'}{digits[-4:]}"


def number_hash(number: str | None, key: str | None = None) -> str | None:
    if not number:
        return None
    secret = (key or get_settings().pii_hash_key).encode()
    return hmac.new(secret, number.encode(), hashlib.sha256).hexdigest()
