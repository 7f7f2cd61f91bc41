"""Where call recordings are written: the one place, so encryption at rest wraps every recording.

A recording reference is ``<tenant>/<call_id>.wav`` relative to the store's root; nothing else in
the code base opens recording files. (The billing issue adds AES-256-GCM envelope encryption here:
a data key per recording, wrapped by the master key, bound to tenant and call.)
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from infra.settings import get_settings

_SAFE = re.compile(r"[A-Za-z0-9_-]{1,64}")


class RecordingStore:
    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root or get_settings().recordings_dir)

    def _path(self, ref: str) -> Path:
        tenant, _, name = ref.partition("/")
        call_id = name.removesuffix(".wav")
        if not (_SAFE.fullmatch(tenant) and _SAFE.fullmatch(call_id) and name.endswith(".wav")):
            raise ValueError(f"not a recording reference: {ref!r}")
        return self.root / tenant / name

    def write(self, call_id: str, wav: bytes, tenant_id: str | None = None) -> str:
        """Store atomically (a reader never sees half a file); returns the reference."""
        ref = f"{tenant_id or 'default'}/{call_id}.wav"
        path = self._path(ref)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            f.write(wav)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return ref

    def read(self, ref: str) -> bytes:
        return self._path(ref).read_bytes()

    def delete(self, ref: str) -> bool:
        try:
            self._path(ref).unlink()
            return True
        except FileNotFoundError:
            return False
