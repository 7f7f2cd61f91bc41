"""Personas: list, read, create, replace, delete (the registry is in the database)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from admin.dependencies import Personas
from infra.auth import Admin
from infra.http_errors import APIError
from personas.registry import PersonaExists, PersonaNotFound
from personas.schemas import Persona, PersonaOut

router = APIRouter(prefix="/personas", tags=["personas"])


def _not_found(name: str) -> APIError:
    return APIError(404, f"no persona {name!r}", param="name", code="persona_not_found")


@router.get("")
async def list_personas(_: Admin, registry: Personas) -> dict:
    return {"items": [p.model_dump() for p in await registry.list()]}


@router.get("/{name}", response_model=PersonaOut)
async def get_persona(_: Admin, registry: Personas, name: str) -> PersonaOut:
    try:
        return await registry.get(name)
    except PersonaNotFound:
        raise _not_found(name) from None


@router.post("", status_code=201, response_model=PersonaOut)
async def create_persona(_: Admin, registry: Personas, body: Persona) -> PersonaOut:
    try:
        return await registry.create(body)
    except PersonaExists:
        raise APIError(409, f"persona {body.name!r} exists; PUT /admin/personas/{body.name} replaces it",
                       param="name", code="persona_exists") from None


@router.put("/{name}", response_model=PersonaOut)
async def replace_persona(_: Admin, registry: Personas, name: str, body: Persona) -> PersonaOut:
    if body.name != name:
        raise APIError(400, "the body's name must match the path; a persona cannot be renamed", param="name")
    try:
        return await registry.update(name, body)
    except PersonaNotFound:
        raise _not_found(name) from None


@router.delete("/{name}", status_code=204)
async def delete_persona(_: Admin, registry: Personas, name: str) -> Response:
    try:
        await registry.delete(name)
    except PersonaNotFound:
        raise _not_found(name) from None
    return Response(status_code=204)
