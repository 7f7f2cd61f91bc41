"""The published privacy policy: a version and its texts per language."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from infra.settings import PROJECT_ROOT

DEFAULT_PATH = PROJECT_ROOT / "cluster" / "privacy-policy.yaml"


@lru_cache(maxsize=4)
def load_policy(path: Path = DEFAULT_PATH) -> dict:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not data.get("version") or not data.get("texts"):
        raise ValueError("the privacy policy needs a version and texts")
    return data
