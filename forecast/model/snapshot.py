"""A model's compiled PyTensor functions kept on disk, so that a new process skips
PyTensor's graph rewriting.

With the numba cache warm (``forecast.model.compiled``) a new process still spent about
10 s per start before its first fit: PyTensor rewrote both blocks' graphs (canonicalise,
stabilise, specialise) only to find the machine code already cached. The rewritten
functions themselves pickle: the functions nutpie needs (the log-density with its
gradient, the expansion of a draw, the seeded initial point) are stored here after the
first compile, and a later process with the same model unpickles them (PyTensor does not
rewrite an unpickled function; the linker loads each graph's code from numba's cache).

**The key** is a digest of everything the functions are built from, read from the PyMC
model before any compiling:

- the printed graph of the model's log-density and of every traced variable (each
  operation, type, name and the edges between them),
- every constant in those graphs (value, dtype, shape); a random generator's address,
  which the printed graph shows, is left out (nutpie reseeds it at every use),
- each shared variable's name, dtype and current shape (their values are the model's
  data: passed at every call, never compiled in),
- the versions of PyMC, PyTensor, nutpie, numba, llvmlite and NumPy, and
  ``SNAPSHOT_VERSION``.

- PyTensor's settings that change what a graph compiles to (mode, linker, optimizer
  and its inclusions and exclusions, floatX), the model's initial-value strategies, and
  the source of this module and of ``forecast.model.compiled`` (the compile arguments
  fixed in code).

A changed model, prior, data shape or library is another key; an entry that cannot be
read (corrupt, truncated, from another build) is deleted, logged and rebuilt.

**Unpickling runs code**, so nothing is unpickled from a place another user could have
written: the folder (in PyTensor's compile directory, beside numba's cache) is created
private (0700), and before any entry is read both the folder and the entry must belong
to this user and be writable by no one else. A folder that fails the check is neither
read nor written (logged once per process: the model compiles as if there were no
snapshot). A save that fails removes its partial file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import re
import time
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pymc as pm

from forecast.digest import add_array
from forecast.files import replacing

logger = logging.getLogger(__name__)

# Bumped whenever what is stored (or how it is rebuilt) changes.
SNAPSHOT_VERSION = 2
_LIBRARIES = ("pymc", "pytensor", "nutpie", "numba", "llvmlite", "numpy")
_FOLDER = "forecast-snapshots"


class Functions(NamedTuple):
    """What ``nutpie.compile_pymc._make_functions`` returns, in its order."""

    n_dim: int
    n_expanded: int
    logp: Any  # PyTensor function: flat point -> (log-density, gradient)
    expand: Any  # PyTensor function: flat point -> every traced value, flat
    initial_point: Any  # seed -> flat initial point
    shape_info: tuple


class _Stored(NamedTuple):
    """A snapshot's pickled content: the functions, and what rebuilds the initial point."""

    n_dim: int
    n_expanded: int
    logp: Any
    expand: Any
    initial_values: Any  # PyTensor function of no input: each free variable's start
    initial_names: list[str]  # its outputs' names: the first of ``shape_info``'s
    shape_info: tuple


def directory() -> Path:
    """Where snapshots are stored: a folder in PyTensor's compile directory."""
    import pytensor

    return Path(pytensor.config.compiledir) / _FOLDER


def model_key(model: pm.Model) -> str:
    """The digest of everything the model's compiled functions are built from."""
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.basic import Constant
    from pytensor.graph.traversal import ancestors
    from pytensor.printing import debugprint

    outputs = [model.logp(), *model.free_RVs, *model.deterministics]
    digest = hashlib.sha256()
    releases = {name: metadata.version(name) for name in _LIBRARIES}
    digest.update(repr((SNAPSHOT_VERSION, releases, model.check_bounds)).encode())
    digest.update(repr(_compile_settings()).encode())
    strategies = {rv.name: repr(value) for rv, value in model.rvs_to_initial_values.items()}
    digest.update(repr(sorted(strategies.items())).encode())
    for source in _SOURCES:
        digest.update(source.read_bytes())
    printed = debugprint(outputs, file="str", print_type=True)
    # A random generator prints its address; its state is reseeded at every use.
    digest.update(re.sub(r" at 0x[0-9a-fA-F]+", "", printed).encode())
    for var in ancestors(outputs):
        if isinstance(var, Constant):
            add_array(digest, var.data, "const")  # a slice or None goes in by its repr
        elif isinstance(var, SharedVariable):
            value = var.get_value(borrow=True)
            shape = getattr(value, "shape", None)
            digest.update(f"shared:{var.name}:{var.type}:{shape}".encode())
    return digest.hexdigest()


# The code that builds what a snapshot holds: a change to it is another key.
_SOURCES = (Path(__file__), Path(__file__).with_name("compiled.py"))
# Folders found unsafe in this process (logged once each).
_UNSAFE: set[Path] = set()


def _compile_settings() -> tuple:
    """PyTensor's settings that change the compiled functions."""
    import pytensor

    config = pytensor.config
    return (
        config.mode,
        config.linker,
        config.optimizer,
        config.optimizer_including,
        config.optimizer_excluding,
        config.optimizer_requiring,
        config.floatX,
    )


def path_of(key: str) -> Path:
    """Where the snapshot of ``key`` is stored."""
    return directory() / f"{key}.pkl"


def _private(path: Path) -> bool:
    """Owned by this user and writable by no one else (a folder or a file)."""
    status = path.stat()
    return status.st_uid == os.getuid() and not status.st_mode & 0o022


def _safe_folder() -> Path | None:
    """The snapshot folder, created private if missing; None if it exists but another
    user owns it or others can write it (logged once)."""
    folder = directory()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if _private(folder):
        return folder
    if folder not in _UNSAFE:
        _UNSAFE.add(folder)
        logger.warning(
            "compile snapshot: %s is not private to this user (owner or mode); "
            "not reading or writing snapshots there",
            folder,
        )
    return None


def stored(key: str) -> bool:
    """Whether a snapshot of ``key`` is on disk where it may be read (a machine that
    compiled the model before)."""
    return path_of(key).exists() and _safe_folder() is not None and _private(path_of(key))


def load(model: pm.Model, key: str) -> Functions | None:
    """The stored functions of ``key`` (the key of ``model``), holding ``model``'s
    current data; None if there are none or they cannot be read (such an entry is
    deleted and logged)."""
    path = path_of(key)
    if not path.exists() or _safe_folder() is None:
        return None
    if not _private(path):
        logger.warning("compile snapshot: %s is writable by others; not loading it", path.name)
        return None
    started = time.perf_counter()
    try:
        with path.open("rb") as stream:
            stored = pickle.load(stream)
        if not isinstance(stored, _Stored):
            raise TypeError(f"holds a {type(stored).__name__}")
        functions = _rebuilt(stored)
        take_data(model, functions)
    except Exception as error:  # unpickling raises many kinds
        path.unlink(missing_ok=True)
        logger.warning(
            "compile snapshot: %s could not be loaded (%s: %s); removed it, compiling again",
            key[:12],
            type(error).__name__,
            error,
        )
        return None
    logger.info("compile snapshot: loaded %s in %.1f s", key[:12], time.perf_counter() - started)
    return functions


def save(key: str, functions: Functions, initial: InitialValues) -> Path:
    """Store compiled functions under ``key`` (written beside, then renamed)."""
    names = functions.shape_info[0]
    if list(names[: len(initial.names)]) != initial.names:
        raise ValueError("the traced variables do not start with the free variables")
    stored = _Stored(
        n_dim=functions.n_dim,
        n_expanded=functions.n_expanded,
        logp=functions.logp,
        expand=functions.expand,
        initial_values=initial.function,
        initial_names=initial.names,
        shape_info=functions.shape_info,
    )
    path = path_of(key)
    if _safe_folder() is None:
        return path
    with replacing(path) as partial, partial.open("wb") as stream:
        pickle.dump(stored, stream, protocol=pickle.HIGHEST_PROTOCOL)
    logger.info("compile snapshot: stored %s (%.1f MB)", key[:12], path.stat().st_size / 1e6)
    return path


class InitialValues(NamedTuple):
    """A compiled function of no input giving each free variable's jittered start (in
    the unconstrained space), and the names of its outputs."""

    function: Any
    names: list[str]

    @classmethod
    def of(cls, model: pm.Model) -> InitialValues:
        """nutpie's initial values for a PyMC model: the support point of each free
        variable with a U(-1, 1) jitter, as ``pymc.initial_point.make_initial_point_fn``
        builds them (its RNGs replaced, so the model's own are never touched)."""
        from pymc.initial_point import make_initial_point_expression
        from pymc.pytensorf import compile as compile_pymc
        from pymc.pytensorf import replace_rng_nodes
        from pytensor.compile.mode import FAST_COMPILE

        values = make_initial_point_expression(
            free_rvs=model.free_RVs,
            rvs_to_transforms=model.rvs_to_transforms,
            initval_strategies=dict(model.rvs_to_initial_values),
            jitter_rvs=set(model.free_RVs),
            default_strategy="support_point",
            return_transformed=True,
        )
        function = compile_pymc(inputs=[], outputs=replace_rng_nodes(values), mode=FAST_COMPILE)
        return cls(function, [model.rvs_to_values[rv].name for rv in model.free_RVs])

    def seeded(self) -> Any:
        """``seed -> {name: value}``, as PyMC's seeded initial point function, locked
        (nutpie's chains call it from several threads)."""
        from nutpie import compile_pymc as nutpie_pymc
        from pymc.pytensorf import find_rng_nodes, reseed_rngs

        rngs = find_rng_nodes(self.function.maker.fgraph.outputs)

        def initial_point(seed: Any) -> dict[str, np.ndarray]:
            reseed_rngs(rngs, seed)
            return dict(zip(self.names, self.function(), strict=True))

        return nutpie_pymc._wrap_with_lock(initial_point)


def take_data(model: pm.Model, functions: Functions) -> None:
    """Give the unpickled functions' shared variables the model's current values (they
    hold the data of the process that stored them)."""
    from pytensor.compile.sharedvalue import SharedVariable

    current = {
        var.name: var
        for var in [*model.named_vars.values(), *model.dim_lengths.values()]
        if isinstance(var, SharedVariable)
    }
    for function in (functions.logp, functions.expand):
        for var in function.get_shared():
            if var.name not in current:
                raise KeyError(f"shared variable {var.name!r} is not in the model")
            var.set_value(current[var.name].get_value())


def _rebuilt(stored: _Stored) -> Functions:
    """The functions nutpie needs, from a snapshot's content (the initial point flattened
    as ``nutpie.compile_pymc._make_functions`` flattens it)."""
    from nutpie import compile_pymc as nutpie_pymc

    names = stored.initial_names
    shapes = [tuple(shape) for shape in stored.shape_info[2][: len(names)]]
    seeded = InitialValues(stored.initial_values, names).seeded()
    flat = nutpie_pymc._rv_dict_to_flat_array_wrapper(seeded, names=names, shapes=shapes)
    return Functions(
        stored.n_dim, stored.n_expanded, stored.logp, stored.expand, flat, stored.shape_info
    )
