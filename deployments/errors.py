"""Errors a model server raises for bad input, so the ingress can answer 4xx instead of 500.

Ray re-raises an exception from a replica in the caller as a subclass of the original type, so
``except InvalidRequestError`` works across a ``DeploymentHandle`` call.
"""

from __future__ import annotations


class InvalidRequestError(ValueError):
    """The request cannot be served as asked; the message is safe to show to the client."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message, self.param, self.code = message, param, code


class NotFoundError(InvalidRequestError):
    """An unknown model or voice was named."""


class AdapterUnavailableError(InvalidRequestError):
    """A LoRA adapter cannot be loaded (missing or corrupt files, rank above the engine's limit)."""
