"""The vLLM general plugin of this project: picks ``GroupedPunicaWrapperCPU`` on the CPU profile.

vLLM loads general plugins (``[project.entry-points."vllm.general_plugins"]`` in
``pyproject.toml``) in every process it starts, the engine core included, which is where the
LoRA wrapper is built; nothing else of ours runs there. The plugin does nothing unless the
profile's LLM ``env`` sets ``SECRETARY_CPU_LORA_OPS=grouped`` and the platform is the CPU: the
GPU profile keeps vLLM's Triton kernels. It imports nothing heavy until it is asked to act, and
it may run several times in one process (vLLM's contract for plugins).
"""

from __future__ import annotations

import os

ENV = "SECRETARY_CPU_LORA_OPS"
GROUPED = "deployments.llm.cpu_lora_ops.GroupedPunicaWrapperCPU"


def wanted() -> bool:
    return os.environ.get(ENV, "").strip().lower() == "grouped"


def register() -> None:
    """Make the CPU platform build the grouped LoRA wrapper when the profile asks for it."""
    if not wanted():
        return
    from vllm.platforms import current_platform

    if current_platform.is_cpu():
        type(current_platform).get_punica_wrapper = classmethod(lambda cls: GROUPED)
