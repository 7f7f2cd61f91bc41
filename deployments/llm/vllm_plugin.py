"""The vLLM general plugin of this project: CPU-profile fixes inside vLLM's own processes.

vLLM loads general plugins (``[project.entry-points."vllm.general_plugins"]`` in
``pyproject.toml``) in every process it starts, the engine core included, which is where the
LoRA wrapper is built; nothing else of ours runs there. The plugin does nothing unless the
profile's LLM ``env`` sets ``SECRETARY_CPU_LORA_OPS=grouped`` and the platform is the CPU: the
GPU profile keeps vLLM's Triton kernels. It imports nothing heavy until it is asked to act, and
it may run several times in one process (vLLM's contract for plugins).

Four fixes. The first applies on every CPU host, since the bug it mends crashes the engine;
the others are asked for by the profile's LLM ``env``:

- int8 with LoRA on a CPU without AMX: vLLM's oneDNN int8 kernel prepacks a layer's weight
  and sets ``layer.weight = None``; the LoRA wrapper then asks that weight for its device and the
  engine core dies (``'NoneType' object has no attribute 'device'``). vLLM's own unquantised
  oneDNN path leaves an empty tensor instead, and so does :func:`keep_int8_weight_stub`. On AMX
  machines vLLM takes its sgl kernels, which keep the weight, so the bug never showed there.
  ``SECRETARY_CPU_ASSUME_NO_AMX=1`` makes vLLM's processes see no AMX, so a test can force the
  oneDNN path on any machine (:func:`hide_amx`).

- ``SECRETARY_CPU_LORA_OPS=grouped``: the CPU platform builds ``GroupedPunicaWrapperCPU``.
- ``SECRETARY_VLLM_SPIN_S``: how long a reader of vLLM's shared-memory queue between the engine
  core and its worker spins (``sched_yield`` in a loop) after its last message before it sleeps
  on a socket. vLLM spins for 1 s: the engine core a whole core while the worker runs each step,
  the worker a whole core for a second after every reply. On a GPU host that buys microseconds;
  on two cores that STT and TTS share it takes their CPU.
- ``SECRETARY_VLLM_SPIN_NAP_US``: what one turn of the engine core's busy loop does. vLLM calls
  ``sched_yield``, which keeps the core busy: the engine core at nice 19 burnt a whole core
  while the worker computed (13 s of CPU in 17 s of generation), time taken from STT, TTS and
  the audio relay. A nap of some microseconds instead (``time.sleep``) gives the core back
  between looks at the queue (1.0 s of CPU) and costs a step at most one nap.
"""

from __future__ import annotations

import os

ENV = "SECRETARY_CPU_LORA_OPS"
SPIN_ENV = "SECRETARY_VLLM_SPIN_S"
NAP_ENV = "SECRETARY_VLLM_SPIN_NAP_US"
GROUPED = "deployments.llm.cpu_lora_ops.GroupedPunicaWrapperCPU"


def wanted() -> bool:
    return os.environ.get(ENV, "").strip().lower() == "grouped"


def spin_limit_s() -> float | None:
    raw = os.environ.get(SPIN_ENV, "").strip()
    return max(0.0, float(raw)) if raw else None


def spin_nap_s() -> float | None:
    """The nap per busy-loop turn, in seconds (None: vLLM's ``sched_yield``)."""
    raw = os.environ.get(NAP_ENV, "").strip()
    if not raw:
        return None
    micros = float(raw)
    if not 0 < micros <= 10_000:
        raise ValueError(f"{NAP_ENV} must be between 0 and 10000 microseconds, got {raw!r}")
    return micros / 1e6


def register() -> None:
    """Apply the int8 fix on CPU hosts, and what the profile asks for (nothing else by default)."""
    from vllm.platforms import current_platform

    from infra.cpu_features import assume_no_amx

    if current_platform.is_cpu():
        if assume_no_amx():
            hide_amx()
        keep_int8_weight_stub()
    limit = spin_limit_s()
    if limit is not None:
        limit_spin(limit)
    nap = spin_nap_s()
    if nap is not None:
        nap_in_spin(nap)
    if not wanted():
        return
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


def is_engine_core() -> bool:
    """Whether this is vLLM's engine-core process (its multiprocessing name, "EngineCore" or
    "EngineCore_DP<n>", is set when vLLM starts it, before plugins load)."""
    import multiprocessing

    return multiprocessing.current_process().name.startswith("EngineCore")


def nap_in_spin(seconds: float) -> None:
    """In the engine core, make each turn of the shared-memory queue's busy loops a ``seconds``
    sleep instead of a ``sched_yield``. Idempotent; elsewhere nothing changes.

    Only the engine core: it waits while the worker computes a step, and a nap there costs a step
    at most one nap. The worker waits for the engine core's next step between two of its own, and
    napping there too made a token 63-70 ms instead of 36-48 ms (a sleeping core wakes slowly)."""
    if not is_engine_core():
        return
    import time

    from vllm.distributed.device_communicators import shm_broadcast

    def nap() -> None:
        time.sleep(seconds)

    nap.__secretary_nap_s__ = seconds
    shm_broadcast.sched_yield = nap


def hide_amx() -> None:
    """Make this process's torch report no AMX tiles, the check every vLLM CPU kernel choice makes.

    For tests and for operators who want the portable path: an AMX machine then runs exactly what
    an AMD EPYC or an older Xeon runs (oneDNN int8 and bf16 GEMMs). Idempotent."""
    import torch

    torch.cpu._is_amx_tile_supported = lambda: False


def keep_int8_weight_stub() -> None:
    """After vLLM's oneDNN int8 kernel prepacks a weight, leave an empty int8 tensor in its place.

    The LoRA wrapper reads only the weight's device (``_get_lora_device``); the product uses the
    prepacked copy inside the oneDNN handler, so the stub costs no memory. Idempotent: the wrapper
    marks itself and is not wrapped again.
    """
    import torch
    from vllm.model_executor.kernels.linear.scaled_mm import cpu as scaled_mm_cpu

    cls = scaled_mm_cpu.CPUInt8ScaledMMLinearKernel
    if getattr(cls.process_weights_for_onednn, "__secretary_stub__", False):
        return
    original = cls.process_weights_for_onednn

    def process_weights_for_onednn(self, layer: torch.nn.Module) -> None:
        name = self.layer_param_names[0]
        device = getattr(layer, name).device
        original(self, layer)
        if getattr(layer, name, None) is None:
            setattr(layer, name, torch.nn.Parameter(torch.empty(0, dtype=torch.int8, device=device), requires_grad=False))

    process_weights_for_onednn.__secretary_stub__ = True
    cls.process_weights_for_onednn = process_weights_for_onednn
