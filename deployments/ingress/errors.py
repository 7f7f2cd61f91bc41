"""The ingress's errors: the shared OpenAI error shape plus the mapping of model-server errors."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from deployments.errors import AdapterUnavailableError, InvalidRequestError, NotFoundError
from infra.http_errors import APIError, error_body, error_response
from infra.http_errors import install_error_handlers as install_common_handlers

__all__ = ["APIError", "error_body", "error_response", "from_model_error", "install_error_handlers"]


def from_model_error(exc: InvalidRequestError) -> APIError:
    if isinstance(exc, AdapterUnavailableError):
        return APIError(503, exc.message, exc.param, exc.code or "adapter_unavailable")
    return APIError(404 if isinstance(exc, NotFoundError) else 400, exc.message, exc.param, exc.code)


def install_error_handlers(app: FastAPI) -> None:
    install_common_handlers(app)

    @app.exception_handler(InvalidRequestError)
    async def _model_error(_req: Request, exc: InvalidRequestError) -> JSONResponse:
        e = from_model_error(exc)
        return error_response(e.status, e.message, e.param, e.code)
