"""The vLLM general plugin of this project: CPU-profile fixes inside vLLM's own processes.

vLLM loads general plugins (``[project.entry-points."vllm.general_plugins"]`` in
``pyproject.toml``) in every process it starts, the engine core included, which is where the
LoRA wrapper is built; nothing else of ours runs there. The plugin does nothing unless the
profile's LLM ``env`` sets ``SECRETARY_CPU_LORA_OPS=grouped`` and the platform is the CPU: the
GPU profile keeps vLLM's Triton kernels. It imports nothing heavy until it is asked to act, and
it may run several times in one process (vLLM's contract for plugins).

Two fixes, each asked for by the profile's LLM ``env``:

- ``SECRETARY_CPU_LORA_OPS=grouped``: the CPU platform builds ``GroupedPunicaWrapperCPU``.
- ``SECRETARY_VLLM_SPIN_S``: how long a reader of vLLM's shared-memory queue between the engine
  core and its worker spins (``sched_yield`` in a loop) after its last message before it sleeps
  on a socket. vLLM spins for 1 s: the engine core a whole core while the worker runs each step,
  the worker a whole core for a second after every reply. On a GPU host that buys microseconds;
  on two cores that STT and TTS share it takes their CPU.
"""

from __future__ import annotations

import os

ENV = "SECRETARY_CPU_LORA_OPS"
SPIN_ENV = "SECRETARY_VLLM_SPIN_S"
GROUPED = "deployments.llm.cpu_lora_ops.GroupedPunicaWrapperCPU"


def wanted() -> bool:
    return os.environ.get(ENV, "").strip().lower() == "grouped"


def spin_limit_s() -> float | None:
    raw = os.environ.get(SPIN_ENV, "").strip()
    return max(0.0, float(raw)) if raw else None


def register() -> None:
    """Apply what the profile asks for (nothing by default)."""
    limit = spin_limit_s()
    if limit is not None:
        limit_spin(limit)
    if not wanted():
        return
    from vllm.platforms import current_platform

    if current_platform.is_cpu():
        type(current_platform).get_punica_wrapper = classmethod(lambda cls: GROUPED)


def limit_spin(seconds: float) -> None:
    """Cap the shared-memory queue readers' busy loop at ``seconds`` (vLLM's default: 1 s).

    vLLM has no option for it: ``SpinCondition`` takes ``busy_loop_s`` with a default that its
    callers never pass, so the default is what is capped. Idempotent.
    """
    from vllm.distributed.device_communicators import shm_broadcast

    cls = shm_broadcast.SpinCondition
    original = getattr(cls.__init__, "__wrapped_by_secretary__", cls.__init__)

    def init(self, is_reader, context, notify_address, busy_loop_s: float = 1) -> None:
        original(self, is_reader, context, notify_address, busy_loop_s=min(busy_loop_s, seconds))

    init.__wrapped_by_secretary__ = original
    cls.__init__ = init
