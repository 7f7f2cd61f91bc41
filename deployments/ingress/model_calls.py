"""Calling model deployments from a route: model errors become 4xx, lost replicas 503."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

from ray.exceptions import RayError
from ray.serve.exceptions import BackPressureError

from deployments.errors import InvalidRequestError
from deployments.ingress.errors import APIError, from_model_error
from infra.logging import get_logger
from infra.settings import get_settings
from personas.responder import LLMUnavailable

log = get_logger(__name__)
T = TypeVar("T")


def _translate(exc: BaseException) -> APIError | None:
    if isinstance(exc, LLMUnavailable):
        return APIError(503, str(exc), code="model_unavailable")
    if isinstance(exc, InvalidRequestError):
        return from_model_error(exc)
    if isinstance(exc, BackPressureError):
        return APIError(503, "the model server is at capacity; retry shortly", code="overloaded")
    if isinstance(exc, RayError):
        log.warning("ingress.model_unavailable", error=type(exc).__name__)
        return APIError(503, "the model server is unavailable; retry shortly", code="model_unavailable")
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return APIError(504, "the model server did not answer in time", code="timeout")
    return None


async def call_model(awaitable: Awaitable[T]) -> T:
    try:
        return await asyncio.wait_for(awaitable, get_settings().request_timeout_s)
    except Exception as exc:
        api = _translate(exc)
        if api is None:
            raise
        raise api from None


async def first_and_rest(gen: AsyncIterator[Any]) -> tuple[Any, AsyncIterator[Any]]:
    """Pull the first item so request errors surface before response headers are sent."""
    try:
        first = await asyncio.wait_for(gen.__anext__(), get_settings().request_timeout_s)
    except StopAsyncIteration:
        return None, gen
    except Exception as exc:
        api = _translate(exc)
        if api is None:
            raise
        raise api from None
    return first, gen
