"""What this machine's processor can do, as the kernels that run on it will see it.

CI and developers get a different x86-64 processor from day to day (an Intel Xeon with AMX
tiles, an AMD EPYC with AVX-512 and VNNI but no AMX, ...), so nothing tuned on one may assume
the other. The answers come from torch's own checks (``torch.cpu._is_*_supported``), which are
exactly what vLLM consults when it picks a kernel, plus ``/proc/cpuinfo`` for the name.

``SECRETARY_CPU_ASSUME_NO_AMX=1`` reports no AMX even where there is some: a test, or an
operator, can then run the portable path on any machine (vLLM's processes hide AMX too, see
``deployments/llm/vllm_plugin.py``).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

NO_AMX_ENV = "SECRETARY_CPU_ASSUME_NO_AMX"


def assume_no_amx() -> bool:
    return os.environ.get(NO_AMX_ENV, "").strip().lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class CpuFeatures:
    model: str
    cpus: int  # logical CPUs this process may run on (its affinity mask, not the host's count)
    avx2: bool
    avx512: bool
    avx512_bf16: bool
    amx: bool

    @property
    def tier(self) -> str:
        """The widest instruction family the kernels will use: amx, avx512_bf16, avx512, avx2 or none."""
        for name in ("amx", "avx512_bf16", "avx512", "avx2"):
            if getattr(self, name):
                return name
        return "none"

    def as_log(self) -> dict:
        return {**asdict(self), "tier": self.tier}


def _model_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def usable_cpus() -> list[int]:
    """The CPUs this process may run on, in order (a container or taskset may give it fewer)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return list(range(os.cpu_count() or 1))


def detect() -> CpuFeatures:
    import torch

    def has(name: str) -> bool:
        check = getattr(torch.cpu, f"_is_{name}_supported", None)
        try:
            return bool(check()) if check else False
        except RuntimeError:
            return False

    return CpuFeatures(
        model=_model_name(),
        cpus=len(usable_cpus()),
        avx2=has("avx2"),
        avx512=has("avx512"),
        avx512_bf16=has("avx512_bf16"),
        amx=has("amx_tile") and not assume_no_amx(),
    )
