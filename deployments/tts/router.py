"""Several TTS engines behind one deployment, each voice served by the engine that has it.

A profile's languages need different engines: Piper for English on the CPU profile, Festival for
Russian (no Russian Piper voice ships on PyPI). The router is itself an engine, so the TTS
deployment, the speech service and the ingress see one voice list::

    tts:
      engine: router
      config:
        engines:
          - {engine: piper, config: {voices: [...]}}
          - {engine: festival, optional: true, config: {voices: [...]}}

An ``optional`` engine that cannot start (Festival not installed) is left out with a warning and
its voices are absent: personas then fall back to a voice of their language or say why not
(``personas/voices.py``). A required one fails the deployment's start with its own error.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deployments.tts.engine import TextToSpeechEngine, VoiceInfo
from infra.logging import get_logger

log = get_logger(__name__)


@dataclass
class RouterConfig:
    engines: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_dict(cls, d: dict) -> RouterConfig:
        engines = list(d.get("engines") or [])
        if not engines:
            raise ValueError("the router needs at least one engine: config.engines = [{engine, config}, ...]")
        return cls(engines)


class RouterEngine(TextToSpeechEngine):
    name = "router"

    def __init__(self, config: RouterConfig, resolve_path=lambda p: Path(p)) -> None:
        from deployments.registry import TTS_ENGINES, build_engine

        self.engines: list[TextToSpeechEngine] = []
        self.unavailable: dict[str, str] = {}  # engine name -> why it is not serving
        self._by_voice: dict[str, TextToSpeechEngine] = {}
        for spec in config.engines:
            spec = dict(spec)
            optional = bool(spec.pop("optional", False))
            if spec.get("engine") == self.name:
                raise ValueError("a router cannot contain a router")
            try:
                engine = build_engine(TTS_ENGINES, spec)
            except Exception as exc:
                if not optional:
                    raise
                self.unavailable[spec.get("engine", "?")] = str(exc)[:300]
                log.warning("tts.engine_unavailable", engine=spec.get("engine"), error=str(exc)[:300])
                continue
            self.engines.append(engine)
            for voice in engine.voices():
                if voice.id in self._by_voice:
                    raise ValueError(f"voice {voice.id!r} is served by two engines")
                self._by_voice[voice.id] = engine
        if not self._by_voice:
            raise RuntimeError(f"no TTS engine could start: {self.unavailable}")

    def voices(self) -> list[VoiceInfo]:
        return [v for engine in self.engines for v in engine.voices()]

    def synthesize(self, text: str, voice: str, speed: float = 1.0) -> Iterator[np.ndarray]:
        return self._by_voice[voice].synthesize(text, voice, speed)
