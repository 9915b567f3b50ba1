"""The releases the compile path relies on: installed ones inside them, pyproject.toml
stating the same bounds, and a release outside them refused by name."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from forecast import versions

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_the_installed_releases_are_those_the_compile_path_was_written_for():
    """Fails naming each library outside its range (a `make setup` installs the lock)."""
    versions.check()


def test_pyproject_states_the_same_bounds():
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    stated = {(r := Requirement(d)).name: r.specifier for d in dependencies}
    for name, (lowest, below) in versions.RELIED_ON.items():
        assert stated[name] == SpecifierSet(f">={lowest},<{below}"), name


def test_a_release_outside_the_range_is_refused_naming_it_and_the_range():
    installed = {"nutpie": "0.16.11", "pytensor": "3.0.1", "numba": "0.65.1", "pymc": "5.28.5"}
    with pytest.raises(versions.UnsupportedVersion) as refused:
        versions.check(installed=installed.__getitem__)
    message = str(refused.value)
    assert "pytensor 3.0.1 (supported: >=2.38,<2.39)" in message
    assert message.count("(supported:") == 1  # nutpie 0.16.11 is inside its range


def test_a_pre_release_of_the_next_major_or_a_missing_library_is_refused():
    installed = {"nutpie": "0.16.8", "pytensor": "2.38.3", "numba": "0.65.1", "pymc": "6.0.0rc1"}

    def version(name: str) -> str:
        if name == "numba":
            raise metadata.PackageNotFoundError(name)
        return installed[name]

    with pytest.raises(versions.UnsupportedVersion) as refused:
        versions.check(installed=version)
    assert "pymc 6.0.0rc1 (supported: >=5.25,<6)" in str(refused.value)
    assert "numba not installed" in str(refused.value)
