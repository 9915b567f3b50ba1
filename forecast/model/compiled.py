"""A PyMC model compiled for nutpie, with its C callbacks cached on disk across processes.

``nutpie.compile_pymc_model`` builds two numba C callbacks per model (the log-density
with its gradient, and the expansion of a draw into every traced variable). They wrap
PyTensor's compiled graph, which PyTensor already caches on disk, but numba cannot cache
the callbacks themselves (nutpie builds them from closures), and typing their extraction
of the model's data (one ``literal_unroll`` step per ``pm.Data``) is most of a compile:
about 39 of the 49 s the two blocks took in every new process.

``compile_for_nutpie`` builds the same callbacks from generated source with the data
extraction written out, and registers them with PyTensor's numba cache under a key of
everything they depend on:

- the source of the callback (the model's dimension, its data's names, ranks and dtypes),
- PyTensor's own cache key of the wrapped graph (the model's structure and config),
- the versions of numba, llvmlite, PyTensor, nutpie and this module (``CALLBACK_VERSION``).

A second process with the same model loads the callbacks instead of compiling them, and
the PyTensor functions they wrap from the model's snapshot (``forecast.model.snapshot``:
no graph rewriting, about 10 s of every start before). An
entry that cannot be loaded (corrupt, truncated, from another build), the callbacks' or
PyTensor's, is deleted, logged and rebuilt (``forecast.numba_cache``). A graph that PyTensor
cannot cache gets nutpie's own, uncached callbacks.

The cache lives where PyTensor's does (``PYTENSOR_FLAGS=base_compiledir=DIR`` moves
both; the default is ``~/.pytensor``). ``FORECAST_COMPILE_CACHE=off`` compiles nutpie's
own callbacks instead (the benchmarks' baseline).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pymc as pm

# Imported for its guard: a cache entry numba cannot load is deleted and compiled again.
from forecast import numba_cache as numba_cache
from forecast.model import snapshot

logger = logging.getLogger(__name__)

# Bumped whenever the generated callbacks change.
CALLBACK_VERSION = 1
_LIBRARIES = ("numba", "llvmlite", "pytensor", "nutpie", "pymc", "numpy")
_LOCK = threading.RLock()  # re-entered: compile_for_nutpie holds it around _functions


def compile_for_nutpie(model: pm.Model, key: str | None = None) -> Any:
    """``nutpie.compile_pymc_model(model, freeze_model=False)``, with both C callbacks
    loaded from the on-disk cache when an entry for this model exists (and written there
    otherwise). ``with_data`` and sampling work as on nutpie's own compiled model.
    ``key``: the model's ``snapshot.model_key``, if the caller has computed it."""
    from nutpie import compile_pymc as nutpie_pymc

    if not cache_enabled():
        return nutpie_pymc.compile_pymc_model(model, freeze_model=False)

    key = key or snapshot.model_key(model)
    # Functions read once are shared by the models of their structure (``_READ``): each
    # model's data are copied out of them before another model's can be put in.
    with _LOCK:
        n_dim, n_expanded, logp_pt, expand_pt, initial_point_fn, shape_info = _functions(model, key)
        shared_data, shared_vars = {}, {}
        for var in [*logp_pt.get_shared(), *expand_pt.get_shared()]:
            if var.name in shared_data and shared_vars[var.name] is not var:
                raise ValueError(f"Shared variables must have unique names: {var.name}")
            shared_data[var.name] = np.array(var.get_value(), order="C", copy=True)
            shared_vars[var.name] = var
    for value in shared_data.values():
        value.flags.writeable = False
    user_data = nutpie_pymc.make_user_data(shared_vars, shared_data)

    logp_names = [var.name for var in logp_pt.get_shared()]
    expand_names = [var.name for var in expand_pt.get_shared()]
    logp_func = _callback(
        "logp", logp_pt.vm.jit_fn, n_dim, n_expanded, logp_names, shared_data, user_data
    )
    expand_func = _callback(
        "expand", expand_pt.vm.jit_fn, n_dim, n_expanded, expand_names, shared_data, user_data
    )
    if logp_func is None or expand_func is None:
        logger.info("the model's graph cannot be cached; compiling nutpie's own callbacks")
        return nutpie_pymc.compile_pymc_model(model, freeze_model=False)

    dims, coords = nutpie_pymc._prepare_dims_and_coords(model, shape_info)
    return nutpie_pymc.CompiledPyMCModel(
        _n_dim=n_dim,
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info, strict=True)},
        compiled_logp_func=logp_func,
        compiled_expand_func=expand_func,
        initial_point_func=initial_point_fn,
        shared_data=shared_data,
        user_data=user_data,
        n_expanded=n_expanded,
        shape_info=shape_info,
        logp_func=logp_pt,
        expand_func=expand_pt,
    )


def cache_enabled() -> bool:
    """Whether compiled models are cached on disk (``FORECAST_COMPILE_CACHE`` not ``off``)."""
    return os.environ.get("FORECAST_COMPILE_CACHE", "on") != "off"


# The PyTensor functions read from a snapshot, kept for the process by the snapshot's
# path: a model of the same structure compiled again (another question of the same shape,
# or a question whose model a worker evicted and needs again) reuses them, given its own
# data, instead of reading another copy, which numba never frees (8 MB a copy: a worker
# serving questions in turn grew without bound). At most one per model structure.
_READ: dict[Path, snapshot.Functions] = {}
# Likewise each callback made (by its cache folder and key): loading one again from
# numba's cache makes another copy that is never freed.
_CFUNCS: dict[tuple[str, str], Any] = {}


def forget_read() -> None:
    """Forget the functions and callbacks read in this process: the next compile reads
    them from the disk caches, as a new process does."""
    with _LOCK:
        _READ.clear()
        _CFUNCS.clear()


def _functions(model: pm.Model, key: str) -> snapshot.Functions:
    """The PyTensor functions nutpie wraps: those read already in this process, or
    unpickled from the model's snapshot (``key``) if there is one (no graph rewriting),
    each given ``model``'s data; else compiled as nutpie compiles them and stored.

    Functions compiled here are not kept: their shared variables are ``model``'s own
    data, which another model's data must never overwrite (the next compile reads them
    from the snapshot)."""
    from nutpie import compile_pymc as nutpie_pymc

    path = snapshot.path_of(key)
    with _LOCK:
        functions = _READ.get(path)
        if functions is not None:
            snapshot.take_data(model, functions)
            logger.info("compile snapshot: %s reused (read earlier in this process)", key[:12])
            return functions
        functions = snapshot.load(model, key)
        if functions is not None:
            _READ[path] = functions
            return functions
    if functions is None:
        # nutpie's defaults for numba: support-point initial values, every free
        # variable jittered.
        initial = snapshot.InitialValues.of(model)
        functions = snapshot.Functions(
            *nutpie_pymc._make_functions(
                model,
                mode="NUMBA",
                compute_grad=True,
                join_expanded=True,
                pymc_initial_point_fn=initial.seeded(),
            )
        )
        snapshot.save(key, functions, initial)
    return functions


# The C signatures nutpie calls: (dim, x, gradient out, logp out, user data) and
# (dim, expanded dim, x, expanded out, user data).
_SIGNATURES = {
    "logp": numba.types.int64(
        numba.types.uint64,
        numba.types.CPointer(numba.types.double),
        numba.types.CPointer(numba.types.double),
        numba.types.CPointer(numba.types.double),
        numba.types.voidptr,
    ),
    "expand": numba.types.int64(
        numba.types.uint64,
        numba.types.uint64,
        numba.types.CPointer(numba.types.double),
        numba.types.CPointer(numba.types.double),
        numba.types.voidptr,
    ),
}

# The bodies nutpie's callbacks have, after the data are extracted into ``args``.
_BODIES = {
    "logp": """\
def {name}(dim, x_, out_, logp_, user_data_):
    if dim != {n_dim}:
        return -1
    try:
        x = numba.carray(x_, ({n_dim},))
        out = numba.carray(out_, ({n_dim},))
        logp = numba.carray(logp_, ())
        logp_val, grad = call(x, user_data_)
        logp[()] = logp_val
        out[...] = grad
        if not np.all(np.isfinite(out)):
            return 3
        if not np.isfinite(logp_val):
            return 4
    except Exception:
        return 1
    return 0
""",
    "expand": """\
def {name}(dim, expanded, x_, out_, user_data_):
    if dim != {n_dim}:
        return -1
    if expanded != {n_expanded}:
        return -1
    try:
        x = numba.carray(x_, ({n_dim},))
        out = numba.carray(out_, ({n_expanded},))
        (values,) = call(x, user_data_)
        out[...] = values
    except Exception:
        return -2
    return 0
""",
}


def _callback(
    kind: str,
    inner: Any,
    n_dim: int,
    n_expanded: int,
    names: Sequence[str],
    shared_data: dict[str, np.ndarray],
    user_data: np.ndarray,
) -> Any | None:
    """One of nutpie's C callbacks around ``inner`` (PyTensor's compiled graph), cached
    under a key of everything it depends on; ``None`` if PyTensor could not cache
    ``inner`` (then neither can this)."""
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS, compile_numba_function_src

    graph_key = CACHED_SRC_FUNCTIONS.get(getattr(inner, "py_func", None))
    if graph_key is None:
        return None
    lines = ["def call(x, user_data_):"]
    if names:
        lines.append("    shared = numba.carray(user_data_, (), RECORD)['shared']")
    env: dict[str, Any] = {}
    for i, name in enumerate(names):
        value = shared_data[name]
        env[f"DTYPE_{i}"] = value.dtype
        dims = ", ".join(f"int(shape_{i}[{d}])" for d in range(value.ndim))
        lines += [
            f"    pointer_{i} = address_as_void_pointer(shared['data'][{name!r}][()])",
            f"    size_{i} = int(shared['size'][{name!r}][()])",
            f"    shape_{i} = shared['shape'][{name!r}]",
            f"    data_{i} = numba.carray(pointer_{i}, size_{i}, DTYPE_{i}).reshape(({dims}"
            + ("," if value.ndim == 1 else "")
            + "))",
        ]
    lines.append("    return inner(x" + "".join(f", data_{i}" for i in range(len(names))) + ")")
    # The data are read and the graph called in a function of their own: numba's liveness
    # analysis of one try block holding every extraction takes minutes.
    call_source = "\n".join(lines) + "\n"
    name = f"nutpie_{kind}"
    source = _BODIES[kind].format(name=name, n_dim=n_dim, n_expanded=n_expanded)
    key = callback_key(
        call_source + source,
        graph_key,
        [str(shared_data[n].dtype) for n in names],
        user_data,
    )

    from nutpie.compile_pymc import address_as_void_pointer
    from pytensor.link.numba.dispatch.basic import numba_njit

    env.update(
        __name__=__name__,
        numba=numba,
        np=np,
        inner=inner,
        RECORD=user_data.dtype,
        address_as_void_pointer=address_as_void_pointer,
    )
    call = numba_njit(compile_numba_function_src(call_source, "call", env))
    # A module name in the globals lets numba store the callback's environment (it
    # imports that module when loading it).
    env = {"__name__": __name__, "numba": numba, "np": np, "call": call}
    return _compiled_cfunc(
        lambda: compile_numba_function_src(source, name, env, cache_key=key),
        _SIGNATURES[kind],
        key,
    )


def callback_key(source: str, graph_key: str, dtypes: Sequence[str], user_data: np.ndarray) -> str:
    """The cache key of a callback: its source, the wrapped graph's key, the data's
    dtypes and layout, and the versions of every library that compiles it."""
    releases = {name: metadata.version(name) for name in _LIBRARIES}
    payload = repr((CALLBACK_VERSION, releases, source, graph_key, list(dtypes), user_data.dtype))
    return hashlib.sha256(payload.encode()).hexdigest()


def _compiled_cfunc(make_function: Callable[[], Any], signature: Any, key: str) -> Any:
    """``numba.cfunc(signature, cache=True)`` of a fresh function object: the one made
    already in this process for ``key`` (its code reads the data from the user data it is
    called with, so any model of the structure may call it), else loaded from the cache
    when an entry for ``key`` exists, else compiled and stored."""
    from pytensor.link.numba.cache import NUMBA_CACHE_PATH

    made = (str(NUMBA_CACHE_PATH), key)
    with _LOCK:
        if made in _CFUNCS:
            return _CFUNCS[made]
        started = time.perf_counter()
        cfunc = numba.cfunc(signature, cache=True)(make_function())
        _CFUNCS[made] = cfunc
        hit = cfunc.cache_hits > 0
        logger.info(
            "compile cache: %s %s in %.1f s",
            "loaded" if hit else "compiled and stored",
            key[:12],
            time.perf_counter() - started,
        )
        return cfunc
