"""Shared helpers for the deployment-definition tests: the files and the metric names the code declares."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from infra.settings import PROJECT_ROOT

CLUSTER = PROJECT_ROOT / "cluster"
_DECLARED = re.compile(r'metrics\.(counter|gauge|histogram)\(\s*"([a-z0-9_]+)"')
_RAY_METRIC = re.compile(r"\bray_[a-z0-9_]+")


def load_yaml_documents(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def declared_metrics() -> dict[str, str]:
    """Every series name our code exports through Ray's metrics agent, with its kind.

    ``infra.metrics`` prefixes ``secretary_``, Ray's agent ``ray_``; a histogram is also its
    ``_bucket``, ``_sum`` and ``_count`` series.
    """
    names: dict[str, str] = {}
    for path in PROJECT_ROOT.glob("**/*.py"):
        if any(part in (".venv", "tests", "var") for part in path.relative_to(PROJECT_ROOT).parts):
            continue
        for kind, name in _DECLARED.findall(path.read_text()):
            base = f"ray_secretary_{name}"
            names[base] = kind
            if kind == "histogram":
                names.update({f"{base}_bucket": kind, f"{base}_sum": kind, f"{base}_count": kind})
    return names


def ray_metrics_in(text: str) -> set[str]:
    return set(_RAY_METRIC.findall(text))
