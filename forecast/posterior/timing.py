"""Endorsement-timing distributions (log-normal, Weibull) in numpy, for derived quantities."""

from __future__ import annotations

import numpy as np
from scipy import special

TIMING_FORMS: tuple[str, ...] = ("lognormal", "weibull")


def _check(form: str) -> None:
    if form not in TIMING_FORMS:
        raise ValueError(f"unknown timing form {form!r}; valid: {', '.join(TIMING_FORMS)}")


def cdf(form: str, day: np.ndarray, location: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """P(T <= day) for endorsement time T (days from campaign start); broadcasts.

    ``location`` is log-scale: the log-normal's mu, or the log of the Weibull scale.
    ``shape`` is the log-normal's sigma or the Weibull's k. Days <= 0 give 0.
    """
    _check(form)
    with np.errstate(divide="ignore"):  # log 0 = -inf gives F = 0 in both forms
        log_day = np.log(np.maximum(np.asarray(day, dtype=float), 0.0))
    if form == "lognormal":
        return special.ndtr((log_day - location) / shape)
    return -np.expm1(-np.exp(shape * (log_day - location)))


def logpdf(form: str, day: np.ndarray, location: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """Log density of T at ``day`` (> 0)."""
    _check(form)
    log_day = np.log(day)
    if form == "lognormal":
        z = (log_day - location) / shape
        return -0.5 * z**2 - np.log(shape) - log_day - 0.5 * np.log(2 * np.pi)
    z = shape * (log_day - location)
    return np.log(shape) - log_day + z - np.exp(z)


def sample(
    form: str, location: np.ndarray, shape: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Draw endorsement days from the timing distribution (broadcast shapes)."""
    _check(form)
    location, shape = np.broadcast_arrays(location, shape)
    if form == "lognormal":
        return np.exp(location + shape * rng.standard_normal(location.shape))
    return np.exp(location) * rng.weibull(shape)
