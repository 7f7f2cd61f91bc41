"""Each tenant's LoRA adapters live in its own directory, and their ids are the server's.

A persona's adapter used to be whatever ``path`` and ``name`` the client sent: any server
directory (``/etc`` was accepted), another tenant's adapter, or another tenant's *cache entry*
(the LLM replicas cache adapters by ``name@vN``). Now:

- an adapter is published from a directory inside the tenant's store
  (``{adapters_dir}/{tenant}/…``; the operator's shared personas use ``{adapters_dir}/_shared``),
  named relative to it. Absolute paths, ``..``, and symbolic links anywhere in it are refused,
  so neither the directory nor a file in it can point outside;
- the server names it: ``<tenant tag>-<content hash>``, so the multiplexed id
  ``<name>@v<version>`` of one tenant's adapter can never equal another tenant's, and new
  weights are always a new id;
- the content hash is kept with the persona and checked again whenever its status is computed:
  files changed behind the registry's back make the persona unavailable rather than serve
  weights nobody published.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from personas.schemas import Adapter

ADAPTER_FILES = ("adapter_config.json",)
SHARED = "_shared"
SAFE_SEGMENT = re.compile(r"[A-Za-z0-9._-]{1,128}")


class AdapterPathError(ValueError):
    """The adapter path is not a directory inside the caller's store, or not an adapter (HTTP 400)."""


def tenant_tag(tenant_id: str | None) -> str:
    """A short, stable tag of the tenant in adapter ids (the id itself is not shown to others)."""
    if tenant_id is None:
        return "shared"
    return "t" + hashlib.sha256(tenant_id.encode()).hexdigest()[:10]


def content_hash(directory: Path) -> str:
    """SHA-256 over every file's relative path and bytes, in a fixed order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0")
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


def adapter_name(tenant_id: str | None, sha256: str) -> str:
    return f"{tenant_tag(tenant_id)}-{sha256[:16]}"


class AdapterStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def root_for(self, tenant_id: str | None) -> Path:
        """The tenant's directory (created on first use); tenant ids are checked, never trusted as paths."""
        segment = SHARED if tenant_id is None else tenant_id
        if not SAFE_SEGMENT.fullmatch(segment) or segment in (".", ".."):
            raise AdapterPathError("this tenant id cannot name an adapter directory")
        path = self.root / segment
        path.mkdir(parents=True, exist_ok=True)
        return path

    def resolve(self, tenant_id: str | None, relative: str) -> Path:
        """The adapter directory ``relative`` names inside the tenant's store; refuses any way out."""
        candidate = Path(relative)
        if candidate.is_absolute() or not relative.strip():
            raise AdapterPathError("an adapter path is relative to your adapter store, e.g. 'anna/v3'")
        if any(part in ("..", "") or not SAFE_SEGMENT.fullmatch(part) for part in candidate.parts):
            raise AdapterPathError("an adapter path is made of names (letters, digits, '.', '_', '-'), no '..'")
        base = self.root_for(tenant_id).resolve()
        path = base / candidate
        # No link on the way (a link to another tenant's directory) and none inside (a link to a file).
        for step in [base / Path(*candidate.parts[: i + 1]) for i in range(len(candidate.parts))]:
            if step.is_symlink():
                raise AdapterPathError(f"{relative!r} is a symbolic link; adapters are plain directories")
        if not path.is_dir():
            raise AdapterPathError(f"there is no adapter directory {relative!r} in your adapter store")
        if not path.resolve().is_relative_to(base):
            raise AdapterPathError(f"{relative!r} is outside your adapter store")
        if any(p.is_symlink() for p in path.rglob("*")):
            raise AdapterPathError(f"{relative!r} contains symbolic links; adapters are plain files")
        missing = [f for f in ADAPTER_FILES if not (path / f).is_file()]
        if missing or not any(path.glob("adapter_model.*")):
            raise AdapterPathError(f"{relative!r} is not a LoRA adapter: it lacks {', '.join(missing) or 'adapter_model.*'}")
        return path

    def publish(self, tenant_id: str | None, relative: str, version: int) -> Adapter:
        """The adapter the server will serve for these files: its own name, the exact path, the hash."""
        path = self.resolve(tenant_id, relative)
        sha = content_hash(path)
        return Adapter(name=adapter_name(tenant_id, sha), version=version, path=str(path), sha256=sha)

    def problem(self, tenant_id: str | None, adapter: Adapter) -> str | None:
        """Why a stored adapter must not be served for this tenant now, or None."""
        if adapter.sha256 is None:
            return "the adapter was not published through the adapter store"
        path = Path(adapter.path)
        base = self.root_for(tenant_id).resolve()
        if not path.is_dir() or not path.resolve().is_relative_to(base):
            return f"adapter directory {path.name!r} is missing from the tenant's adapter store"
        if adapter.name != adapter_name(tenant_id, adapter.sha256):
            return "the adapter's id does not belong to this tenant"
        if content_hash(path) != adapter.sha256:
            return "the adapter's files changed after it was published"
        return None
