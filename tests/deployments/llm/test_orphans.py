"""The orphan reaper kills an engine process whose replica is gone, and nothing else."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from deployments.llm.orphans import reap_orphaned_engines

# A stand-in engine: a process titled like vLLM's engine core, orphaned (its parent exits at once).
ORPHAN = """
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "VLLM::EngineCore"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(child.pid)
"""


def test_an_orphaned_engine_is_reaped_and_other_processes_are_left_alone():
    # The "replica" exits at once; its engine child stays, adopted. Other engines on the machine (a
    # test session's own, a cluster's) have live parents and must survive.
    orphan_pid = int(
        subprocess.run([sys.executable, "-c", ORPHAN], check=True, capture_output=True, text=True).stdout.strip()
    )
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "not-an-engine"])
    # An engine whose parent lives (here: this test process) is not an orphan.
    adopted_not = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "VLLM::EngineCore"])
    try:
        deadline = time.monotonic() + 5
        while psutil.Process(orphan_pid).ppid() != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        reaped = reap_orphaned_engines()
        assert orphan_pid in reaped
        try:
            psutil.Process(orphan_pid).wait(5)
        except psutil.NoSuchProcess:
            pass
        assert not psutil.pid_exists(orphan_pid) or psutil.Process(orphan_pid).status() == psutil.STATUS_ZOMBIE
        assert bystander.poll() is None  # a process that is not an engine is never touched
        assert adopted_not.poll() is None and adopted_not.pid not in reaped
    finally:
        bystander.kill()
        adopted_not.kill()
