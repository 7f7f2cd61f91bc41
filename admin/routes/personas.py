"""Personas: list, read, create, replace, delete; publish an adapter version; FAQ hit counts.

Publishing (``PUT /admin/personas/{name}/adapter``) is how a fine-tuned adapter goes live: the
next request for the persona loads the new version on the LLM replicas, while requests already
running finish on the old one. Nothing restarts. The body names a directory of the caller's own
adapter store; the server names the adapter (``personas/adapter_store.py``), so a persona's
``adapter`` is never taken from a client: creating or replacing a persona keeps the published
one, and a body that tries to set another is refused.

A tenant's personas may use as many distinct voices as its plan allows: a persona that would add
one more is refused with 402 (the billing gate's body).
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response

from admin.dependencies import Gate, Personas
from infra.auth import Admin, Principal, Reader
from infra.http_errors import APIError
from personas.adapter_store import AdapterPathError
from personas.faq import entry_key
from personas.registry import PersonaExists, PersonaNotFound
from personas.schemas import AdapterPublish, Persona, PersonaOut

router = APIRouter(prefix="/personas", tags=["personas"])


def _not_found(name: str) -> APIError:
    return APIError(404, f"no persona {name!r}", param="name", code="persona_not_found")


@router.get("")
async def list_personas(_: Reader, registry: Personas) -> dict:
    return {"items": [p.model_dump() for p in await registry.list()]}


@router.get("/{name}", response_model=PersonaOut)
async def get_persona(_: Reader, registry: Personas, name: str) -> PersonaOut:
    try:
        return await registry.get(name)
    except PersonaNotFound:
        raise _not_found(name) from None


async def _check_voices(principal: Principal, gate, registry, body: Persona) -> None:
    if gate is None or principal.tenant_id is None:
        return  # metering off, or the operator's own (shared) personas
    voices = {p.voice for p in await registry.list() if p.name != body.name} | {body.voice}
    await gate.check_voices(principal.tenant_id, voices)


def _adapter_not_settable() -> APIError:
    return APIError(
        400,
        "a persona's adapter is published with PUT /admin/personas/{name}/adapter from your adapter store",
        param="adapter",
        code="adapter_not_settable",
    )


@router.post("", status_code=201, response_model=PersonaOut)
async def create_persona(principal: Admin, registry: Personas, gate: Gate, body: Persona) -> PersonaOut:
    if body.adapter is not None:
        raise _adapter_not_settable()
    await _check_voices(principal, gate, registry, body)
    try:
        return await registry.create(body)
    except PersonaExists:
        raise APIError(
            409,
            f"persona {body.name!r} exists; PUT /admin/personas/{body.name} replaces it",
            param="name",
            code="persona_exists",
        ) from None


@router.put("/{name}", response_model=PersonaOut)
async def replace_persona(principal: Admin, registry: Personas, gate: Gate, name: str, body: Persona) -> PersonaOut:
    if body.name != name:
        raise APIError(400, "the body's name must match the path; a persona cannot be renamed", param="name")
    await _check_voices(principal, gate, registry, body)
    try:
        current = await registry.get(name)
        if body.adapter is not None and body.adapter != current.adapter:
            raise _adapter_not_settable()
        return await registry.update(name, body.model_copy(update={"adapter": current.adapter}))
    except PersonaNotFound:
        raise _not_found(name) from None


@router.delete("/{name}", status_code=204)
async def delete_persona(_: Admin, registry: Personas, name: str) -> Response:
    try:
        await registry.delete(name)
    except PersonaNotFound:
        raise _not_found(name) from None
    return Response(status_code=204)


@router.put("/{name}/adapter", response_model=PersonaOut)
async def publish_adapter(principal: Admin, registry: Personas, name: str, body: AdapterPublish) -> PersonaOut:
    """Point the persona at a directory of the caller's adapter store, as a new version."""
    try:
        current = await registry.get(name)
        if current.adapter and body.version < current.adapter.version:
            raise APIError(
                409,
                f"version {body.version} is older than the published {current.adapter.version}",
                param="version",
                code="adapter_version_older",
            )
        try:
            adapter = await asyncio.to_thread(registry.adapters.publish, principal.tenant_id, body.path, body.version)
        except AdapterPathError as exc:
            raise APIError(400, str(exc), param="path", code="adapter_path_invalid") from None
        return await registry.update(name, current.model_copy(update={"adapter": adapter}))
    except PersonaNotFound:
        raise _not_found(name) from None


@router.delete("/{name}/adapter", response_model=PersonaOut)
async def remove_adapter(_: Admin, registry: Personas, name: str) -> PersonaOut:
    """Back to the base model for this persona."""
    try:
        current = await registry.get(name)
        return await registry.update(name, current.model_copy(update={"adapter": None}))
    except PersonaNotFound:
        raise _not_found(name) from None


@router.get("/{name}/faq")
async def faq_stats(_: Reader, registry: Personas, name: str) -> dict:
    """The persona's FAQ entries with how often each answered."""
    try:
        persona = await registry.get(name)
    except PersonaNotFound:
        raise _not_found(name) from None
    hits = await registry.faq_hits(name)
    items = []
    for i, entry in enumerate(persona.faq):
        count, last = hits.get(entry_key(entry), (0, None))
        items.append({"index": i, **entry.model_dump(), "hits": count, "last_hit_at": last.isoformat() if last else None})
    return {"items": items}
