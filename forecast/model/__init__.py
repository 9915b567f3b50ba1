"""The PyMC model: per-ally block, campaign level, sampling with nutpie, diagnostics gate."""

# Before anything compiles: a cacheable ``erfcx`` for PyTensor's numba backend, and
# corrupt compile-cache entries discarded instead of raised.
from forecast.model import compiled as compiled
from forecast.model import numba_ops as numba_ops
