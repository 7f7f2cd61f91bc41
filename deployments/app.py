"""The Serve application builder named by every profile's ``import_path``.

``args`` is the profile's ``applications[].args``: one block per model deployment (the engine and
its config) plus the ingress's public names. Replica counts, autoscaling and resources are the
profile's ``deployments`` section, which Serve applies by deployment name.
"""

from __future__ import annotations

from typing import Any

from ray.serve import Application

from deployments.ingress.app import OpenAIIngress
from deployments.llm.deployment import LLMServer
from deployments.stt.deployment import STTServer
from deployments.tts.deployment import TTSServer


def language_llm_apps(specs: dict[str, dict] | None) -> dict[str, dict[str, Any]]:
    """One more LLMServer deployment per ``language_llms`` entry: ``{language: {model_id, handle}}``.

    Personas of that language are answered by it (a model that speaks their language); each has
    its own Serve deployment name (``deployment``), so the profile gives it its own resources.
    """
    out: dict[str, dict[str, Any]] = {}
    for language, spec in (specs or {}).items():
        spec = dict(spec)
        name = spec.pop("deployment", None)
        if not name or name == "LLMServer":
            raise ValueError(f"language_llms.{language} needs its own `deployment` name (not LLMServer)")
        out[language] = {"model_id": spec["model_id"], "handle": LLMServer.options(name=name).bind(spec)}
    return out


def build_app(args: dict[str, Any]) -> Application:
    missing = [k for k in ("stt", "tts", "llm") if k not in args]
    if missing:
        raise ValueError(f"the application args lack {missing}; see cluster/profiles/cpu.yaml")
    return OpenAIIngress.bind(
        STTServer.bind(args["stt"]),
        TTSServer.bind(args["tts"]),
        LLMServer.bind(args["llm"]),
        args.get("ingress", {}),
        language_llm_apps(args.get("language_llms")),
    )
