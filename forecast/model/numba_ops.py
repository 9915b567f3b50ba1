"""Numba implementations that PyTensor's numba backend can cache on disk.

PyTensor's numba backend writes every compiled graph to its on-disk cache unless one of
the graph's operations cannot be cached; then the whole graph is compiled again in every
process. The one such operation in this model is ``erfcx`` (``exp(x**2) * erfc(x)``),
which the normal's log-CDF uses in its lower tail (the endgame's log-normal survival and
the probit terms): PyTensor calls SciPy's Cython ``erfcx`` through a function pointer,
and a function pointer cannot be cached. Registering ``erfcx`` here, in plain numba,
makes both blocks' graphs cacheable: a new process loads them instead of compiling them
(the README's performance section has the figures).

Importing this module registers the implementation; ``forecast.model`` does so before
anything is compiled.
"""

from __future__ import annotations

import math

from pytensor.link.numba.dispatch import basic as numba_basic
from pytensor.link.numba.dispatch.basic import register_funcify_and_cache_key
from pytensor.link.numba.dispatch.scalar import numba_funcify_ScalarOp, scalar_op_cache_key
from pytensor.scalar.math import Erfcx

# Below this, exp(x**2) * erfc(x) loses nothing: erfc(26) is about 6e-296, still a normal
# double, and exp(26**2) about 1e293. Above it erfc underflows, and the asymptotic series
# (Abramowitz and Stegun 7.1.23) is exact to a double's precision: its sixth term is below
# 1e-15 at x = 26.
ASYMPTOTIC_FROM = 26.0
_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)
# Bumped whenever ``erfcx`` below changes, so that no cached graph keeps an old copy.
_VERSION = 1


def erfcx(x: float) -> float:
    """``exp(x**2) * erfc(x)``, for any real ``x`` (``inf`` once it overflows, below
    about -26.6, as SciPy's)."""
    if x < ASYMPTOTIC_FROM:
        return math.exp(x * x) * math.erfc(x)
    inv = 1.0 / (2.0 * x * x)
    # 1 - 1/(2x²) + 1·3/(2x²)² - 1·3·5/(2x²)³ + ...
    total, term = 1.0, 1.0
    for k in range(1, 7):
        term *= -(2 * k - 1) * inv
        total += term
    return total * _INV_SQRT_PI / x


@register_funcify_and_cache_key(Erfcx)
def numba_funcify_Erfcx(op, node, **kwargs):
    """``Erfcx`` in plain numba, with a cache key (SciPy's Cython version has none)."""
    if node.inputs[0].type.dtype.startswith("complex"):
        return numba_funcify_ScalarOp(op, node=node, **kwargs)
    return numba_basic.numba_njit(erfcx), scalar_op_cache_key(op, cache_version=_VERSION)
