"""The LLM replica's niceness: set once, absolute, inherited by the engine processes it starts."""

from __future__ import annotations

import subprocess
import sys

CHILD = """
import os, subprocess, sys
from deployments.llm.engine import lower_priority
first, again, higher = lower_priority(5), lower_priority(5), lower_priority(3)
child = subprocess.run([sys.executable, "-c", "import os; print(os.getpriority(os.PRIO_PROCESS, 0))"],
                       capture_output=True, text=True, check=True).stdout.strip()
print(first, again, higher, os.getpriority(os.PRIO_PROCESS, 0), child)
"""


def test_lower_priority_is_absolute_never_raises_and_is_inherited():
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True).stdout.split()
    # 5 twice (not 10: absolute), 3 asked later leaves 5 (never raised), and a child process starts at 5.
    assert out == ["5", "5", "5", "5", "5"]
