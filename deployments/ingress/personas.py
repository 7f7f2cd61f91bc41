"""The ``model`` field names a persona or the base model: resolving it for the routes."""

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
    return APIError(404, f"the model {name!r} does not exist; GET /v1/models lists the models and personas",
                    "model", "model_not_found")


async def resolve_persona(name: str, models: ModelHandles, assistant: Assistant) -> Persona | None:
    """None for the base model (or an alias of it), the persona otherwise; 404 or 503 if unusable."""
    info = await call_model(models.llm_info())
    if name == info["id"] or name in models.config.llm_aliases:
        return None
    try:
        persona = await assistant.registry.get(name)
    except PersonaNotFound:
        raise _not_found(name) from None
    except SQLAlchemyError as exc:  # no registry yet (the admin app creates it): only the base model
        log.warning("ingress.persona_registry_unreadable", error=type(exc).__name__)
        raise _not_found(name) from None
    if persona.status != "available":
        raise APIError(503, f"the persona {name!r} is unavailable: {persona.status_reason or 'unknown reason'}",
                       "model", "persona_unavailable")
    return persona


async def list_personas(assistant: Assistant) -> list[PersonaOut]:
    try:
        return await assistant.registry.list()
    except SQLAlchemyError as exc:
        log.warning("ingress.persona_registry_unreadable", error=type(exc).__name__)
        return []
