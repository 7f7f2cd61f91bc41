"""Engines are chosen by configuration: ``{"engine": "<name>", "config": {...}}`` in the profile.

Each kind keeps a table of ``name -> "module:Class"``; the module is imported only when picked,
so GPU-only engines (XTTS) never load on the CPU profile. A profile is configuration, never a
second code path.
"""

from __future__ import annotations

import importlib
from typing import Any

from infra.settings import get_settings

STT_ENGINES = {"faster-whisper": "deployments.stt.faster_whisper:FasterWhisperEngine"}
TTS_ENGINES = {
    "piper": "deployments.tts.piper:PiperEngine",
    "xtts": "deployments.tts.xtts:XTTSEngine",
    "festival": "deployments.tts.festival:FestivalEngine",
    "router": "deployments.tts.router:RouterEngine",
}
CONFIG_CLASSES = {
    "deployments.stt.faster_whisper:FasterWhisperEngine": "deployments.stt.faster_whisper:FasterWhisperConfig",
    "deployments.tts.piper:PiperEngine": "deployments.tts.piper:PiperConfig",
    "deployments.tts.xtts:XTTSEngine": "deployments.tts.xtts:XTTSConfig",
    "deployments.tts.festival:FestivalEngine": "deployments.tts.festival:FestivalConfig",
    "deployments.tts.router:RouterEngine": "deployments.tts.router:RouterConfig",
}


def _load(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def build_engine(table: dict[str, str], spec: dict) -> Any:
    """Instantiate the engine that ``spec["engine"]`` names with ``spec["config"]``."""
    name = spec.get("engine")
    if name not in table:
        raise ValueError(f"unknown engine {name!r}; choose one of {sorted(table)}")
    ref = table[name]
    config = _load(CONFIG_CLASSES[ref]).from_dict(spec.get("config", {}))
    return _load(ref)(config, resolve_path=get_settings().resolve_model_path)
