"""The orphan reaper kills an engine process whose replica is gone, and nothing else."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from deployments.llm.orphans import reap_orphaned_engines

# A stand-in engine: a process titled like vLLM's engine core, orphaned (its parent exits at once).
ORPHAN = """
import os, subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "VLLM::EngineCore"],
                 start_new_session=False)
"""


def test_an_orphaned_engine_is_reaped_and_other_processes_are_left_alone():
    subprocess.run([sys.executable, "-c", ORPHAN], check=True)  # the "replica" exits, its child stays
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "not-an-engine"])
    # An engine whose parent lives (here: this test process) is not an orphan.
    adopted_not = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "VLLM::EngineCore"])
    try:
        deadline = time.monotonic() + 5
        orphans = []
        while not orphans and time.monotonic() < deadline:
            orphans = [p for p in psutil.process_iter(["cmdline"])
                       if "VLLM::EngineCore" in (p.info["cmdline"] or []) and p.pid != adopted_not.pid]
            time.sleep(0.05)
        assert orphans
        reaped = reap_orphaned_engines()
        assert {p.pid for p in orphans} <= set(reaped)
        for p in orphans:
            try:
                assert p.wait(5) is not None or not p.is_running()
            except psutil.NoSuchProcess:
                pass
        assert bystander.poll() is None  # a process that is not an engine is never touched
        assert adopted_not.poll() is None and adopted_not.pid not in reaped
    finally:
        bystander.kill()
        adopted_not.kill()
