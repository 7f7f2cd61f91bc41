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


def build_app(args: dict[str, Any]) -> Application:
    missing = [k for k in ("stt", "tts", "llm") if k not in args]
    if missing:
        raise ValueError(f"the application args lack {missing}; see cluster/profiles/cpu.yaml")
    return OpenAIIngress.bind(
        STTServer.bind(args["stt"]), TTSServer.bind(args["tts"]), LLMServer.bind(args["llm"]),
        args.get("ingress", {}),
    )
