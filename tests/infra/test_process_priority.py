"""Niceness per thread: set absolutely, given way only when asked, and refused without privilege."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from infra.process_priority import niceness, set_niceness, set_process_niceness

# Each case runs in a child process: niceness, once raised, cannot be lowered back unprivileged.
GIVE_WAY = """
from infra.process_priority import set_niceness
print(set_niceness(10), set_niceness(12, only_lower_priority=True), set_niceness(5, only_lower_priority=True),
      set_niceness(40))
"""


def _child(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=os.getcwd(),
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )


def test_niceness_is_absolute_and_a_model_server_only_gives_way():
    # 10; 12 (giving way further); still 12 (a lower value is refused when only giving way); 19 (clamped).
    assert _child(GIVE_WAY).stdout.split() == ["10", "12", "12", "19"]


def test_without_the_privilege_the_niceness_stays_and_a_warning_says_why(monkeypatch, capsys):
    def refuse(which: int, who: int, value: int) -> None:
        raise PermissionError(13, "Permission denied")  # what the kernel says without CAP_SYS_NICE

    monkeypatch.setattr(os, "setpriority", refuse)
    before = niceness()
    assert set_niceness(before - 5) == before
    logged = capsys.readouterr()
    assert "process_priority.unchanged" in logged.out + logged.err
    assert "CAP_SYS_NICE" in logged.out + logged.err


@pytest.mark.skipif(os.geteuid() != 0, reason="raising priority needs root (CI runs as root)")
def test_with_the_privilege_a_thread_gets_ahead_and_only_that_thread():
    seen: list[int] = []
    main_before = niceness()

    def pacer() -> None:
        set_niceness(main_before + 3, only_lower_priority=True)
        seen.append(set_niceness(main_before - 5))

    t = threading.Thread(target=pacer)
    t.start()
    t.join()
    assert seen == [max(-20, main_before - 5)]
    assert niceness() == main_before  # niceness belongs to the thread on Linux


EVERY_THREAD = """
import os, threading
from infra.process_priority import niceness, set_process_niceness
done, ready = threading.Event(), threading.Event()
def helper():
    ready.set()
    done.wait()
t = threading.Thread(target=helper)
t.start()
ready.wait()
start = niceness()
now = set_process_niceness(start + 3)
print(start, len(now), sorted(set(now.values())))
done.set()
t.join()
"""


def test_the_whole_process_changes_not_only_the_calling_thread():
    # Making threads nicer needs no privilege, so this runs anywhere; a child keeps it contained.
    start, threads, values = _child(EVERY_THREAD).stdout.strip().split(maxsplit=2)
    assert int(threads) >= 2  # the main thread and the helper at least
    assert values == f"[{min(19, int(start) + 3)}]"


def test_without_the_privilege_every_thread_keeps_its_niceness_and_one_warning_says_why(monkeypatch, capsys):
    def refuse(which: int, who: int, value: int) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "setpriority", refuse)
    before = niceness()
    result = set_process_niceness(before - 5)
    assert result[threading.get_native_id()] == before
    logged = capsys.readouterr()
    assert (logged.out + logged.err).count("process_priority.unchanged") == 1
