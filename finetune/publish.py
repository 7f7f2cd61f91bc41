"""Publishing a trained adapter: into the tenant's adapter store, then to its persona, only if it is better.

The adapter's files are copied into a hidden staging directory of the store and renamed into
place (``{persona}/v{N}-{job}``) in one step, so the store never holds half an adapter; the
persona is then pointed at it through the adapter store (server-assigned id, content hash) in
one transaction. A job stopped before this publishes nothing. The next chat request or call
for the persona loads the new version on the LLM replicas (Serve multiplexing): no restart.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from finetune.versions import AdapterVersions
from personas.adapter_store import AdapterStore
from personas.registry import PersonaRegistry


def stage_into_store(store: AdapterStore, tenant_id: str | None, persona: str, version: int, job_id: str, src: Path) -> str:
    """Copy the adapter into the tenant's store atomically; returns its path relative to the store."""
    root = store.root_for(tenant_id)
    relative = f"{persona}/v{version}-{job_id}"
    final = root / relative
    staging = root / persona / f".staging-{job_id}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(src, staging)
    if final.exists():
        shutil.rmtree(final)
    os.rename(staging, final)
    return relative


async def publish(
    registry: PersonaRegistry, store: AdapterStore, tenant_id: str | None, persona: str, relative: str, version: int
) -> dict:
    """Point the persona at the adapter (the same checks as ``PUT /admin/personas/{name}/adapter``)."""
    current = await registry.get(persona)
    adapter = store.publish(tenant_id, relative, version)
    await registry.update(persona, current.model_copy(update={"adapter": adapter}))
    return adapter.model_dump()


async def roll_back(registry: PersonaRegistry, versions: AdapterVersions, persona: str) -> dict | None:
    """The persona goes back to its previous published version (or the base model); returns that adapter."""
    current = await registry.get(persona)
    if current.adapter is None:
        raise LookupError(f"persona {persona!r} has no adapter to roll back")
    previous = await versions.roll_back(persona, current.adapter.version)
    adapter = previous.adapter if previous else None
    from personas.schemas import Adapter

    await registry.update(persona, current.model_copy(update={"adapter": Adapter(**adapter) if adapter else None}))
    return adapter


async def use_version(registry: PersonaRegistry, versions: AdapterVersions, persona: str, version: int) -> dict:
    """Serve a stored version again (one rolled back, or an older published one), its files checked first.

    A rejected version was never copied into the store: there is nothing to serve (LookupError).
    Files that are gone or changed since are refused (ValueError) rather than served."""
    from personas.schemas import Adapter

    current = await registry.get(persona)
    chosen = next((v for v in await versions.list(persona) if v.version == version), None)
    if chosen is None or not chosen.adapter:
        raise LookupError(f"version {version} of {persona!r} has no adapter to serve")
    adapter = Adapter(**chosen.adapter)
    problem = registry.adapters.problem(versions.tenant_id, adapter) if registry.adapters is not None else None
    if problem:
        raise ValueError(problem)
    await versions.set_status(persona, version, "published")
    await registry.update(persona, current.model_copy(update={"adapter": adapter}))
    return chosen.adapter
