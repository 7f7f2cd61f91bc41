"""The ``model`` field names a persona or the base model: resolving it for the routes.

A key sees its own tenant's personas and the installation's shared ones (no tenant); another
tenant's persona does not exist for it (404), so its prompt, FAQ and adapter stay private.
"""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from deployments.ingress.dependencies import Assistant, ModelHandles
from deployments.ingress.errors import APIError
from deployments.ingress.model_calls import call_model
from infra.logging import get_logger
from personas.registry import PersonaNotFound
from personas.schemas import Persona, PersonaOut

log = get_logger(__name__)


def _not_found(name: str) -> APIError:
    return APIError(
        404, f"the model {name!r} does not exist; GET /v1/models lists the models and personas", "model", "model_not_found"
    )


def _registry(assistant: Assistant, tenant: str | None):
    return assistant.registry.scoped(tenant) if tenant is not None else assistant.registry


async def resolve_persona(
    name: str, models: ModelHandles, assistant: Assistant, tenant: str | None = None
) -> Persona | None:
    """None for the base model (or an alias of it), the persona otherwise; 404 or 503 if unusable."""
    info = await call_model(models.llm_info())
    if name == info["id"] or name in models.config.llm_aliases or models.llm_for_model(name) is not None:
        return None
    try:
        persona = await _registry(assistant, tenant).get(name)
    except PersonaNotFound:
        raise _not_found(name) from None
    except SQLAlchemyError as exc:  # no registry yet (the admin app creates it): only the base model
        log.warning("ingress.persona_registry_unreadable", error=type(exc).__name__)
        raise _not_found(name) from None
    if persona.status != "available":
        raise APIError(
            503,
            f"the persona {name!r} is unavailable: {persona.status_reason or 'unknown reason'}",
            "model",
            "persona_unavailable",
        )
    return persona


async def list_personas(assistant: Assistant, tenant: str | None = None) -> list[PersonaOut]:
    try:
        return await _registry(assistant, tenant).list()
    except SQLAlchemyError as exc:
        log.warning("ingress.persona_registry_unreadable", error=type(exc).__name__)
        return []
