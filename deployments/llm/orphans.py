"""Reap vLLM engine processes whose replica died.

vLLM runs its engine core (and the workers under it) in child processes of the replica. When
the replica is killed outright (SIGKILL, the OOM killer), Ray's per-worker process-group cleanup
normally takes those children with it (measured here: within 5 s). Where that cleanup is off or
misses one, an orphaned engine would keep its memory and KV cache for good, and the replacement
replica could not allocate its own. A replica that starts therefore kills every engine process
that has been orphaned: its parent is now init or the raylet (a subreaper adopts orphans). An
engine whose parent lives (another replica, a script, a test process) is never touched.
"""

from __future__ import annotations

import psutil

from infra.logging import get_logger

log = get_logger(__name__)
ENGINE_MARK = "VLLM::"


def _adopted(parent: psutil.Process | None) -> bool:
    """The process was orphaned: init or Ray's raylet (a subreaper) adopted it."""
    if parent is None or parent.pid == 1:
        return True
    try:
        return any("raylet" in part for part in parent.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def reap_orphaned_engines() -> list[int]:
    """Kill engine processes (and their children) whose replica is gone; returns their pids."""
    reaped = []
    for proc in psutil.process_iter(["pid", "name", "cmdline"]):
        try:
            title = " ".join(proc.info["cmdline"] or []) or proc.info["name"] or ""
            if "EngineCore" not in title or ENGINE_MARK not in title:
                continue
            if not _adopted(proc.parent()):
                continue
            for p in [*proc.children(recursive=True), proc]:
                p.kill()
            reaped.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    if reaped:
        log.warning("llm.reaped_orphaned_engines", pids=reaped)
    return reaped
