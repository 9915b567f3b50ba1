"""The library releases whose internals the fast compile path uses, and the check that the
installed ones are among them: a newer release fails at once, naming itself, instead of
deep inside a compile."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from importlib import metadata

from packaging.specifiers import SpecifierSet

logger = logging.getLogger(__name__)

# Package: (lowest, first not supported). Each reaches past the public API:
# - nutpie: compile_pymc._make_functions, make_user_data, address_as_void_pointer
#   (model/compiled.py, model/snapshot.py);
# - pytensor: link.numba.cache, link.numba.dispatch.basic.numba_njit, a function's
#   vm.jit_fn (model/compiled.py);
# - numba: numba.core.caching (numba_cache.py);
# - pymc: pytensorf.compile and the model's value variables (model/snapshot.py).
# pyproject.toml states the same bounds (a test holds them equal). PyMC 6, ArviZ 1 and
# nutpie 0.16.11 need Python 3.12; the project runs on Python 3.11 (README, "Stack").
RELIED_ON: dict[str, tuple[str, str]] = {
    "nutpie": ("0.16", "0.17"),
    "pytensor": ("2.38", "2.39"),
    "numba": ("0.65", "0.66"),
    "pymc": ("5.25", "6"),
}


class UnsupportedVersion(RuntimeError):
    """An installed library is outside the releases the compile path was written for."""


def check(
    relied_on: Mapping[str, tuple[str, str]] = RELIED_ON,
    installed: Callable[[str], str] = metadata.version,
) -> None:
    """Raise ``UnsupportedVersion`` naming every package outside its range.

    Raises
    ------
    UnsupportedVersion
        With each package, its installed release and the supported range, and the
        command that installs the locked ones.
    """
    wrong = []
    for name, (lowest, below) in relied_on.items():
        shown = f">={lowest},<{below}"
        supported = SpecifierSet(shown)  # pre-releases excluded, as pip does
        try:
            version = installed(name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{name} not installed (supported: {shown})")
            continue
        if not supported.contains(version):
            wrong.append(f"{name} {version} (supported: {shown})")
    if wrong:
        raise UnsupportedVersion(
            "the compile path uses internals of releases other than these: "
            + "; ".join(wrong)
            + ". Install the locked versions with `make setup`, or port "
            "forecast/model/compiled.py and forecast/model/snapshot.py and raise the bounds "
            "in forecast/versions.py and pyproject.toml"
        )
