"""CPU scheduling niceness for the calling thread (and what it starts from then on).

Ray starts every worker at nice 15, so by default a model replica that burns both cores for a
Whisper pass and the actor that must write a frame to the modem every 20 ms are equals. Two
uses: a model server that may wait makes itself nicer (the LLM, which runs ahead of speech),
and a real-time clock asks for better than its neighbours (the modem's uplink pacer).

On Linux niceness belongs to a thread; :func:`set_niceness` changes the calling one, which is
the event loop's when called from a coroutine, and threads inherit it from whoever starts them.
:func:`set_process_niceness` changes every thread the process has: a real-time loop shares the
GIL with its process's other threads, and one of them preempted at nice 15 while holding the GIL
stalls the loop as surely as a busy core would (priority inversion). Raising priority needs
``CAP_SYS_NICE``: without it the niceness stays as it is and a warning says so; nothing fails.
"""

from __future__ import annotations

import os

from infra.logging import get_logger

log = get_logger(__name__)


def niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, 0)


def set_niceness(target: int, *, only_lower_priority: bool = False) -> int:
    """Set the calling thread's niceness to ``target`` (absolute, -20..19); returns it as it now is.

    ``only_lower_priority``: never make it less nice than it is (a model server giving way;
    called again after an engine restart it does not sink further nor climb back).
    """
    target = max(-20, min(19, target))
    current = niceness()
    if target == current or (only_lower_priority and target < current):
        return current
    try:
        os.setpriority(os.PRIO_PROCESS, 0, target)
    except PermissionError:
        log.warning(
            "process_priority.unchanged", niceness=current, wanted=target, reason="raising priority needs CAP_SYS_NICE"
        )
        return current
    return niceness()


def set_process_niceness(target: int) -> dict[int, int]:
    """Set every current thread of this process to ``target``; returns each thread's niceness now.

    Threads started later inherit their starter's niceness, so call this early, before the
    process starts the helper threads (routers, executors) whose GIL its real-time loop shares.
    """
    target = max(-20, min(19, target))
    result: dict[int, int] = {}
    refused = False
    for name in os.listdir("/proc/self/task"):
        tid = int(name)
        try:
            if os.getpriority(os.PRIO_PROCESS, tid) != target:
                os.setpriority(os.PRIO_PROCESS, tid, target)
            result[tid] = os.getpriority(os.PRIO_PROCESS, tid)
        except PermissionError:
            refused = True
            result[tid] = os.getpriority(os.PRIO_PROCESS, tid)
        except ProcessLookupError:  # the thread ended meanwhile
            continue
    if refused:
        log.warning(
            "process_priority.unchanged", wanted=target, threads=len(result), reason="raising priority needs CAP_SYS_NICE"
        )
    return result
