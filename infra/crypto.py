"""AES-256-GCM envelope encryption: a data key per object, wrapped by a named master key.

- Every object (a call recording) is encrypted with its own random 256-bit data key.
- The data key is stored only wrapped (AES-256-GCM) by a master key that has an id (``kid``), so
  master keys can rotate: ``rewrap`` re-encrypts the small wrapped key with the active master
  key and leaves the object untouched.
- The associated data binds both layers to their context (tenant and call): a recording copied
  under another tenant or call, or a key swapped between recordings, fails to decrypt instead of
  playing someone else's call.
- Destroying the wrapped key destroys the object for good, backups included (crypto-shredding).

Master keys come from settings (``SECRETARY_MASTER_KEYS="kid:base64,…"``, first one active); in
development a local key is generated once in ``var/keys``.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
KEY_BYTES = 32


class DecryptionError(ValueError):
    """The data or its key was altered, belongs to another context, or its master key is gone."""


@dataclass(frozen=True)
class WrappedKey:
    kid: str
    nonce: bytes
    wrapped: bytes

    def to_dict(self) -> dict[str, str]:
        return {"v": "1", "kid": self.kid, "nonce": _b64(self.nonce), "wrapped": _b64(self.wrapped)}

    @classmethod
    def from_dict(cls, d: dict[str, str]) -> WrappedKey:
        return cls(d["kid"], base64.b64decode(d["nonce"]), base64.b64decode(d["wrapped"]))


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


class Keyring:
    """Master keys by id; ``active`` wraps new data keys, any known one unwraps."""

    def __init__(self, keys: dict[str, bytes], active: str) -> None:
        if active not in keys:
            raise ValueError(f"the active master key {active!r} is not in the keyring")
        for kid, key in keys.items():
            if len(key) != KEY_BYTES:
                raise ValueError(f"master key {kid!r} must be {KEY_BYTES} bytes, not {len(key)}")
        self.keys, self.active = dict(keys), active

    @classmethod
    def parse(cls, spec: str) -> Keyring:
        """``kid:base64,kid:base64``; the first is active."""
        keys: dict[str, bytes] = {}
        for item in (p.strip() for p in spec.split(",") if p.strip()):
            kid, sep, b64 = item.partition(":")
            if not sep or not kid:
                raise ValueError("master keys look like 'kid:base64-of-32-bytes', comma separated")
            keys[kid] = base64.b64decode(b64)
        if not keys:
            raise ValueError("no master key given")
        return cls(keys, next(iter(keys)))

    @classmethod
    def local(cls, directory: Path) -> Keyring:
        """A development keyring: one key generated once and kept (0600) in ``directory``."""
        path = Path(directory) / "master.key"
        if not path.exists():
            # Written whole under a private name, then linked into place: two processes starting
            # at once agree on one key, and neither reads a half-written file.
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".master.key.{os.getpid()}.{secrets.token_hex(4)}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(f"local-1:{_b64(secrets.token_bytes(KEY_BYTES))}\n")
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        return cls.parse(path.read_text().strip())

    def wrap(self, data_key: bytes, context: bytes) -> WrappedKey:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return WrappedKey(self.active, nonce, AESGCM(self.keys[self.active]).encrypt(nonce, data_key, context))

    def unwrap(self, wrapped: WrappedKey, context: bytes) -> bytes:
        master = self.keys.get(wrapped.kid)
        if master is None:
            raise DecryptionError(f"master key {wrapped.kid!r} is not in the keyring")
        try:
            return AESGCM(master).decrypt(wrapped.nonce, wrapped.wrapped, context)
        except InvalidTag:
            raise DecryptionError("the data key does not belong to this context or was altered") from None

    def rewrap(self, wrapped: WrappedKey, context: bytes) -> WrappedKey:
        """The same data key under the active master key (rotation); the object is not touched."""
        if wrapped.kid == self.active:
            return wrapped
        return self.wrap(self.unwrap(wrapped, context), context)


MAGIC = b"SECENC1\n"


def seal(keyring: Keyring, plaintext: bytes, context: bytes) -> tuple[bytes, WrappedKey]:
    """Encrypt with a fresh data key; returns the ciphertext blob and the wrapped key."""
    data_key = AESGCM.generate_key(bit_length=256)
    nonce = secrets.token_bytes(NONCE_BYTES)
    blob = MAGIC + nonce + AESGCM(data_key).encrypt(nonce, plaintext, context)
    return blob, keyring.wrap(data_key, context)


def open_sealed(keyring: Keyring, blob: bytes, wrapped: WrappedKey, context: bytes) -> bytes:
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + NONCE_BYTES + 16:
        raise DecryptionError("not an encrypted object")
    data_key = keyring.unwrap(wrapped, context)
    nonce = blob[len(MAGIC) : len(MAGIC) + NONCE_BYTES]
    try:
        return AESGCM(data_key).decrypt(nonce, blob[len(MAGIC) + NONCE_BYTES :], context)
    except InvalidTag:
        raise DecryptionError("the data does not belong to this context or was altered") from None


def seal_text(keyring: Keyring, text: str, context: bytes) -> str:
    """A text sealed for a database column: its own data key, wrapped by the master key, in one JSON."""
    blob, wrapped = seal(keyring, text.encode("utf-8"), context)
    return json.dumps({"key": wrapped.to_dict(), "blob": _b64(blob)}, separators=(",", ":"))


def open_text(keyring: Keyring, sealed: str, context: bytes) -> str:
    """The text ``seal_text`` sealed in this context; ``DecryptionError`` if altered, moved or its key is gone."""
    try:
        d = json.loads(sealed)
        blob, wrapped = base64.b64decode(d["blob"]), WrappedKey.from_dict(d["key"])
    except (ValueError, KeyError, TypeError):
        raise DecryptionError("not a sealed text") from None
    return open_sealed(keyring, blob, wrapped, context).decode("utf-8")
