"""The constraints file pins what is installed, and every requirement of the project is pinned within its range."""

from __future__ import annotations

import tomllib

import pytest
from packaging.requirements import Requirement

from infra.settings import PROJECT_ROOT
from provisioning.lockfile import CONSTRAINTS, REMOVED, check_installed, normalise, parse


def test_this_venv_has_exactly_the_pinned_versions():
    assert check_installed() == []


def test_every_requirement_of_the_project_is_pinned_inside_its_range():
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in ("cpu", "dev"):
        requirements += project["optional-dependencies"][extra]
    pins = parse(CONSTRAINTS.read_text())
    for line in requirements:
        req = Requirement(line)
        name = normalise(req.name)
        assert name in pins, f"{req.name} is not pinned in {CONSTRAINTS.name}"
        assert req.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} is outside {req}"
    assert all(normalise(r) in pins for r in REMOVED)  # pinned too, so even their download is the same


def test_a_drifted_package_is_reported(tmp_path):
    path = tmp_path / "constraints.txt"
    path.write_text("# comment\npytest==0.0.1\nno-such-package-here==1.0\ntriton==9.9\n")
    problems = check_installed(path)
    assert any(p.startswith("pytest: pinned 0.0.1, installed") for p in problems)
    assert "no-such-package-here: pinned 1.0, not installed" in problems
    assert not any(p.startswith("triton") for p in problems)  # removed after install on purpose


def test_only_exact_pins_are_accepted():
    with pytest.raises(ValueError, match="exact pin"):
        parse("transformers>=5.0\n")
