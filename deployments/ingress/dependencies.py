"""What the routes depend on, as ``Annotated`` aliases (FastAPI's full-stack-template style)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends

from infra.settings import Settings, get_settings


@dataclass
class IngressConfig:
    """The ingress's part of the profile: public model names and OpenAI voice aliases."""

    speech_models: list[str] = field(default_factory=lambda: ["tts-1", "tts-1-hd"])
    default_voice: str = "joe"
    voice_aliases: dict[str, str] = field(default_factory=dict)
    llm_aliases: list[str] = field(default_factory=list)
    responder: dict[str, Any] = field(default_factory=dict)  # personas.responder.ResponderConfig
    cloud: dict[str, Any] = field(default_factory=dict)  # personas.cloud.CloudConfig tuning (URL/key: settings)

    @classmethod
    def from_dict(cls, d: dict | None) -> IngressConfig:
        return cls(**(d or {}))


@dataclass
class ModelHandles:
    """Serve handles to the model deployments plus cached facts about them."""

    stt: Any
    tts: Any
    llm: Any
    config: IngressConfig
    # Models for personas of other languages: {language: {"model_id", "handle"}} (deployments/app.py).
    language_llms: dict[str, dict[str, Any]] = field(default_factory=dict)
    _cache: dict[str, Any] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def _cached(self, key: str, call) -> Any:
        if key not in self._cache:
            async with self._lock:
                if key not in self._cache:
                    self._cache[key] = await call()
        return self._cache[key]

    async def llm_info(self) -> dict:
        return await self._cached("llm", lambda: self.llm.model_info.remote())

    def llm_for_model(self, model_id: str) -> Any | None:
        """The handle of a language model named by its id (None: the default model, or no such model)."""
        return next((e["handle"] for e in self.language_llms.values() if e["model_id"] == model_id), None)

    async def stt_models(self) -> list[dict]:
        return await self._cached("stt", lambda: self.stt.models.remote())

    async def tts_voices(self) -> list[dict]:
        return await self._cached("tts", lambda: self.tts.voices.remote())


@dataclass
class Assistant:
    """Personas and how they answer: the registry and the FAQ → local → cloud → apology chain."""

    responder: Any  # personas.responder.PersonaResponder
    registry: Any  # personas.registry.PersonaRegistry


# Serve's ingress wrapper serves its own copy of the FastAPI app, so app.state set in the
# replica's constructor is not the state routes see. One replica is one process: a module-level
# slot, filled once by the constructor, is the honest home.
_models: ModelHandles | None = None
_assistant: Assistant | None = None


def bind_models(models: ModelHandles, assistant: Assistant | None = None) -> None:
    global _models, _assistant
    _models = models
    if assistant is None:
        from personas.responder import build_responder

        responder = build_responder(
            models.llm,
            models.config.responder,
            models.config.cloud,
            language_llms={k: e["handle"] for k, e in models.language_llms.items()},
        )
        assistant = Assistant(responder, responder.registry)
    _assistant = assistant


def get_assistant() -> Assistant:
    if _assistant is None:
        raise RuntimeError("the ingress has no assistant yet")
    return _assistant


def get_models() -> ModelHandles:
    if _models is None:
        raise RuntimeError("the ingress has no model handles yet")
    return _models


Models = Annotated[ModelHandles, Depends(get_models)]
Personas = Annotated[Assistant, Depends(get_assistant)]
AppSettings = Annotated[Settings, Depends(get_settings)]
