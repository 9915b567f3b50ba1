"""numba's on-disk cache, made to serve every process that fits.

Importing this module (``forecast.model`` does; the entry points of the worker and of
``python -m forecast`` do first):

- makes numba delete, log and compile again a cache entry it cannot load (corrupt,
  truncated, written by another build), where numba itself raises and the process cannot
  compile that function at all. This covers PyTensor's graph entries, the model's
  callbacks (``forecast.model.compiled``) and any other numba function.

``import_arviz``, called by a process's entry point before anything imports PyMC (which
imports ArviZ), imports ArviZ with the numba ufunc it compiles at import cached on disk:
``arviz.stats.ecdf_utils`` compiles ``_binom_pmf`` with ``numba.vectorize`` and a
signature, eagerly and uncached, about 0.8 s of the start of every worker and command.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from forecast import versions

logger = logging.getLogger(__name__)

# Numba's internals below, and the compile path's (forecast.model imports this module
# before compiled.py and snapshot.py): a release outside those it was written for fails
# here, named, not deep in a compile.
versions.check()

import numba  # noqa: E402 (after the check)
from numba.core import caching  # noqa: E402


def _load_or_discard(load_overload: Callable[..., Any]) -> Callable[..., Any]:
    """numba's ``Cache.load_overload``, with an entry that cannot be loaded (corrupt,
    truncated, written by another build) deleted, logged and reported as a miss, so that
    it is compiled and stored again. numba itself raises, and the process cannot compile
    the function at all; this covers PyTensor's graph entries as well as the callbacks."""

    @functools.wraps(load_overload)
    def loading(self: Any, sig: Any, target_context: Any) -> Any:
        try:
            return load_overload(self, sig, target_context)
        except Exception as error:  # numba's loaders raise many kinds
            files = _entry_files(self._cache_file)
            for path in files:
                path.unlink(missing_ok=True)
            logger.warning(
                "compile cache: %s could not be loaded (%s: %s); removed %d file(s), "
                "compiling it again",
                self._cache_file._index_name,
                type(error).__name__,
                error,
                len(files),
            )
            return None

    loading.discards_corrupt_entries = True  # type: ignore[attr-defined]
    return loading


def _entry_files(cache_file: Any) -> list[Path]:
    """The index and data files of one function's cache entry."""
    folder = Path(cache_file._cache_path)
    data = cache_file._data_name_pattern.replace("{number:d}", "*")
    return [folder / cache_file._index_name, *folder.glob(data)]


if not getattr(caching.Cache.load_overload, "discards_corrupt_entries", False):
    caching.Cache.load_overload = _load_or_discard(caching.Cache.load_overload)


def import_arviz() -> None:
    """Import ArviZ with every ``numba.vectorize`` it calls at import cached on disk.

    numba keeps such an entry beside the module's source (``__pycache__``) or in
    ``NUMBA_CACHE_DIR``. Does nothing in a process that has imported ArviZ already.
    """
    if "arviz" in sys.modules:
        return
    vectorize = numba.vectorize

    def cached_vectorize(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cache", True)
        return vectorize(*args, **kwargs)

    numba.vectorize = cached_vectorize
    try:
        import arviz  # noqa: F401
    finally:
        numba.vectorize = vectorize
