"""Where call recordings are written and read: the one place, so every recording is encrypted.

A recording reference is ``<tenant>/<call_id>.wav`` relative to the store's root; nothing else in
the code base opens recording files. Each recording is sealed with AES-256-GCM under its own data
key (``infra/crypto.py``), with the tenant and call as associated data. The wrapped data key is
kept in a separate directory (``recording_keys_dir``): deleting a recording destroys its key
first, so no copy of the file, in a backup or elsewhere, can be played again.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from infra.crypto import DecryptionError, Keyring, WrappedKey, open_sealed, seal
from infra.settings import PROJECT_ROOT, get_settings

_SAFE = re.compile(r"[A-Za-z0-9_-]{1,64}")

__all__ = ["DecryptionError", "RecordingStore", "default_keyring"]


def default_keyring() -> Keyring:
    settings = get_settings()
    if settings.master_keys:
        return Keyring.parse(settings.master_keys)
    return Keyring.local(PROJECT_ROOT / "var" / "keys")


class SealsPersonalData:
    """For stores that seal personal data at rest: the keyring, given or made on first use (from
    the settings' master keys), so that building a store never touches the key files."""

    _keyring: Keyring | None = None

    @property
    def keyring(self) -> Keyring:
        if self._keyring is None:
            self._keyring = default_keyring()
        return self._keyring


def _write_atomically(path: Path, data: bytes) -> None:
    """A reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class RecordingStore:
    def __init__(self, root: Path | None = None, keys_dir: Path | None = None, keyring: Keyring | None = None) -> None:
        settings = get_settings()
        self.root = Path(root or settings.recordings_dir)
        self.keys_dir = Path(
            keys_dir or (self.root.parent / (self.root.name + "-keys") if root else settings.recording_keys_dir)
        )
        self._keyring = keyring

    @property
    def keyring(self) -> Keyring:
        if self._keyring is None:
            self._keyring = default_keyring()
        return self._keyring

    @staticmethod
    def _parts(ref: str) -> tuple[str, str]:
        tenant, _, name = ref.partition("/")
        call_id = name.removesuffix(".wav")
        if not (_SAFE.fullmatch(tenant) and _SAFE.fullmatch(call_id) and name.endswith(".wav")):
            raise ValueError(f"not a recording reference: {ref!r}")
        return tenant, call_id

    def _paths(self, ref: str) -> tuple[Path, Path, bytes]:
        tenant, call_id = self._parts(ref)
        context = f"secretary-recording|{tenant}|{call_id}".encode()
        return self.root / tenant / f"{call_id}.wav.enc", self.keys_dir / tenant / f"{call_id}.key", context

    def write(self, call_id: str, wav: bytes, tenant_id: str | None = None) -> str:
        """Encrypt and store; returns the reference."""
        ref = f"{tenant_id or 'default'}/{call_id}.wav"
        data_path, key_path, context = self._paths(ref)
        blob, wrapped = seal(self.keyring, wav, context)
        _write_atomically(key_path, json.dumps(wrapped.to_dict()).encode())
        _write_atomically(data_path, blob)
        return ref

    def read(self, ref: str) -> bytes:
        """The WAV bytes; ``FileNotFoundError`` if deleted, ``DecryptionError`` if tampered with."""
        data_path, key_path, context = self._paths(ref)
        wrapped = WrappedKey.from_dict(json.loads(key_path.read_text()))
        return open_sealed(self.keyring, data_path.read_bytes(), wrapped, context)

    def rotate(self, ref: str) -> bool:
        """Re-wrap the recording's data key with the active master key; True if it changed."""
        _, key_path, context = self._paths(ref)
        wrapped = WrappedKey.from_dict(json.loads(key_path.read_text()))
        new = self.keyring.rewrap(wrapped, context)
        if new is wrapped:
            return False
        _write_atomically(key_path, json.dumps(new.to_dict()).encode())
        return True

    def refs(self) -> list[str]:
        """Every stored recording's reference (for rotation jobs)."""
        return sorted(f"{p.parent.name}/{p.name.removesuffix('.key')}.wav" for p in self.keys_dir.glob("*/*.key"))

    def delete(self, ref: str) -> bool:
        """Destroy the key (the recording is unreadable from then on), then the file."""
        data_path, key_path, _ = self._paths(ref)
        found = False
        for path in (key_path, data_path):
            try:
                path.unlink()
                found = True
            except FileNotFoundError:
                pass
        return found
