"""``production=true`` refuses the defaults that are fine on a laptop and dangerous in public.

Development defaults make ``make demo`` work with nothing configured: a master key generated in
``var/keys`` (beside the recordings it protects, and different on each node), a placeholder PII
hash key, optional session secrets, API docs open on every app. In production each of these is
a hole, so every app and the modem line refuse to start with any of them, and say which and how
to fix it. Outside production the same findings are logged once as a warning.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from infra.logging import get_logger
from infra.settings import Settings

log = get_logger(__name__)
KNOWN_PLACEHOLDERS = {"change-me", "changeme", "secret", "password", "test", "dev", "development", "example"}
MIN_SECRET_CHARS = 32
_warned = False


class InsecureSettings(RuntimeError):
    """Production was asked for, and a setting would make it unsafe."""


def _weak(secret: str | None) -> str | None:
    """Why a shared secret is too weak, or None."""
    if not secret:
        return "it is empty"
    if secret.strip().lower() in KNOWN_PLACEHOLDERS:
        return "it is a placeholder"
    if len(secret) < MIN_SECRET_CHARS:
        return f"it has {len(secret)} characters, fewer than {MIN_SECRET_CHARS}"
    if len(set(secret)) < 10:
        return "it repeats a few characters (not random)"
    return None


def trusted_networks(spec: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """``"10.0.0.0/8, 192.168.1.7"`` → networks; ``ValueError`` names a bad entry."""
    networks = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"trusted_proxies: {item!r} is not an address or network") from None
    return networks


def findings(settings: Settings) -> list[str]:
    """Every insecure setting, each with how to fix it."""
    found = []
    if not settings.master_keys:
        found.append(
            "SECRETARY_MASTER_KEYS is empty: recordings would be wrapped by a key generated in var/keys, beside the "
            "data it protects and different on each node. Set kid:base64-of-32-bytes from a secret store."
        )
    if why := _weak(settings.jwt_secret):
        found.append(f"SECRETARY_JWT_SECRET is weak ({why}): sessions could be forged. Use 32+ random characters.")
    if why := _weak(settings.pii_hash_key):
        found.append(
            f"SECRETARY_PII_HASH_KEY is weak ({why}): hashed phone numbers could be reversed. Use 32+ random characters."
        )
    if settings.admin_token and (why := _weak(settings.admin_token)):
        found.append(f"SECRETARY_ADMIN_TOKEN is weak ({why}). Use 32+ random characters, or leave it empty.")
    if settings.api_docs:
        found.append("SECRETARY_API_DOCS is on: /docs and /openapi.json would be public on every app. Turn it off.")
    if not settings.public_url.startswith("https://"):
        found.append(f"SECRETARY_PUBLIC_URL is {settings.public_url!r}: owners must reach the cluster over https.")
    try:
        trusted_networks(settings.trusted_proxies)
    except ValueError as exc:
        found.append(f"SECRETARY_TRUSTED_PROXIES: {exc}")
    if _inside(settings.recording_keys_dir, settings.recordings_dir):
        found.append("SECRETARY_RECORDING_KEYS_DIR is inside the recordings directory: keep wrapped keys apart.")
    return found


def _inside(path: Path, directory: Path) -> bool:
    try:
        return Path(path).resolve().is_relative_to(Path(directory).resolve())
    except OSError:
        return False


def enforce(settings: Settings) -> None:
    """Refuse to start in production with insecure settings; outside it, warn once."""
    global _warned
    found = findings(settings)
    if settings.production and found:
        raise InsecureSettings("refusing to start with production=true:\n- " + "\n- ".join(found))
    if found and not settings.production and not _warned:
        _warned = True
        log.warning("security.development_settings", findings=len(found), hint="fine for a demo; see docs/production.md")
