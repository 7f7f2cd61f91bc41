"""Personal data helpers: masked display forms and keyed lookup hashes for phone numbers.

A number is stored only masked (for people) and as an HMAC (for machines: "all calls from this
subject", deletion requests), never in clear, so a database dump does not leak who called.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from infra.settings import get_settings

_SEPARATORS = re.compile(r"[\s\-().]")


def normalize_number(number: str | None) -> str | None:
    """One spelling per phone number, so that every record of a caller hashes alike.

    ``+7 (916) 123-45-67``, ``8 916 123 45 67``, ``79161234567``, ``9161234567`` and
    ``0079161234567`` are all ``+79161234567``: the Russian trunk prefix 8 and a bare 10-digit
    mobile number are read as Russian numbers, the home market's way of writing them. Short codes
    (``900``) stay digits; an alphanumeric sender (``MTS-Bank``) stays as it is.
    """
    if number is None:
        return None
    compact = _SEPARATORS.sub("", number.strip())
    if not compact:
        return None
    if compact.startswith("00") and compact[2:].isdigit():
        compact = "+" + compact[2:]
    if compact.startswith("+"):
        return compact if compact[1:].isdigit() else number.strip()
    if not compact.isdigit():
        return number.strip()
    if len(compact) == 11 and compact[0] in "78":
        return "+7" + compact[1:]
    if len(compact) == 10 and compact[0] == "9":
        return "+7" + compact
    return compact


def dialable_number(number: str | None) -> str | None:
    """The number in one spelling if it can be dialled or listed (3 to 15 digits, optionally with
    a leading +); None for words, an alphanumeric sender or nothing."""
    normal = normalize_number(number)
    return normal if normal is not None and re.fullmatch(r"\+?\d{3,15}", normal) else None


def mask_number(number: str | None) -> str:
    """``+79161234567`` -> ``+7916***4567``: enough to recognise, not enough to dial."""
    number = normalize_number(number)
    if not number:
        return "unknown"
    digits = number.lstrip("+")
    prefix = "+" if number.startswith("+") else ""
    if len(digits) <= 6:
        return prefix + "*" * len(digits)
    return f"{prefix}{digits[:4]}{'*' * (len(digits) - 8) if len(digits) > 8 else '***'}{digits[-4:]}"


def number_hash(number: str | None, key: str | None = None) -> str | None:
    """The keyed hash of the number's normal form (``normalize_number``): one per caller, however written."""
    number = normalize_number(number)
    if not number:
        return None
    secret = (key or get_settings().pii_hash_key).encode()
    return hmac.new(secret, number.encode(), hashlib.sha256).hexdigest()


def account_hash(user_id: str, key: str | None = None) -> str:
    """The keyed hash that stands for an account's user in consent records (as ``number_hash`` does
    for a caller): the records name no one in clear, and an erased account leaves nothing readable."""
    secret = (key or get_settings().pii_hash_key).encode()
    return hmac.new(secret, f"account:{user_id}".encode(), hashlib.sha256).hexdigest()
