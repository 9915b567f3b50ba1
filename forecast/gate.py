"""The diagnostics gate: a fit is published only if it converged (thresholds in one place)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import arviz as az
import msgspec
import numpy as np
import xarray as xr

logger = logging.getLogger(__name__)


class GateConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Thresholds every published fit must meet."""

    r_hat_max: float = 1.01
    ess_bulk_min: float = 400.0
    ess_tail_min: float = 400.0
    divergences_max: int = 0


class GateFailed(RuntimeError):
    """The fit did not pass the gate; ``diagnostics`` says why. Never published."""

    def __init__(self, diagnostics: dict[str, Any]):
        self.diagnostics = diagnostics
        super().__init__("diagnostics gate failed: " + "; ".join(diagnostics["failures"]))


def _varying(data: xr.Dataset) -> xr.Dataset:
    """Drop quantities that are the same in every draw (R-hat and ESS are undefined)."""
    keep = {}
    for name, var in data.data_vars.items():
        values = var.values
        spread = np.ptp(values, axis=(0, 1)) if values.ndim > 2 else np.ptp(values)
        if np.any(spread > 1e-12):
            keep[name] = var
    return xr.Dataset(keep)


def diagnose(
    idata: az.InferenceData,
    derived: Mapping[str, np.ndarray],
    *,
    sampler: str,
    sample_seconds: float,
    config: GateConfig | None = None,
) -> dict[str, Any]:
    """Measure convergence of the parameters and of every reported quantity.

    Parameters
    ----------
    idata
        The fit's posterior and sample stats.
    derived
        Reported quantities computed from the draws, each of shape (chain, draw[, ...]):
        P(confirmed by each deadline), per-ally probabilities.
    sampler, sample_seconds
        Recorded with the diagnostics.

    Returns
    -------
    dict
        ``passed``, ``r_hat_max``, ``ess_bulk_min``, ``ess_tail_min``, ``divergences``,
        ``failures`` (one line per threshold missed), ``sampler``, ``sample_seconds``.
    """
    config = config or GateConfig()
    posterior = idata.posterior
    extra = xr.Dataset(
        {
            name: xr.DataArray(
                np.asarray(v),
                dims=("chain", "draw", *[f"{name}_dim_{i}" for i in range(np.ndim(v) - 2)]),
            )
            for name, v in derived.items()
        }
    )
    checked = _varying(xr.merge([posterior.drop_vars(["chain", "draw"]), extra], compat="override"))
    r_hat = az.rhat(checked)
    ess_bulk = az.ess(checked, method="bulk")
    ess_tail = az.ess(checked, method="tail")

    def extreme(ds: xr.Dataset, fn) -> float:
        values = [float(fn(v.values)) for v in ds.data_vars.values() if v.size]
        return float(fn(values)) if values else float("nan")

    diverging = idata.sample_stats.get("diverging")
    divergences = int(diverging.sum()) if diverging is not None else 0
    result = {
        "r_hat_max": extreme(r_hat, np.nanmax),
        "ess_bulk_min": extreme(ess_bulk, np.nanmin),
        "ess_tail_min": extreme(ess_tail, np.nanmin),
        "divergences": divergences,
        "sampler": sampler,
        "sample_seconds": round(float(sample_seconds), 4),
        "chains": int(posterior.sizes["chain"]),
        "draws": int(posterior.sizes["draw"]),
        "thresholds": msgspec.structs.asdict(config),
    }
    failures = []
    if not result["r_hat_max"] <= config.r_hat_max:
        failures.append(f"R-hat {result['r_hat_max']:.4f} > {config.r_hat_max}")
    if not result["ess_bulk_min"] >= config.ess_bulk_min:
        failures.append(f"bulk ESS {result['ess_bulk_min']:.0f} < {config.ess_bulk_min:.0f}")
    if not result["ess_tail_min"] >= config.ess_tail_min:
        failures.append(f"tail ESS {result['ess_tail_min']:.0f} < {config.ess_tail_min:.0f}")
    if divergences > config.divergences_max:
        failures.append(f"{divergences} divergences > {config.divergences_max}")
    result["failures"] = failures
    result["passed"] = not failures
    return result


def check(diagnostics: dict[str, Any]) -> dict[str, Any]:
    """Return the diagnostics if they passed; raise ``GateFailed`` otherwise."""
    if not diagnostics["passed"]:
        raise GateFailed(diagnostics)
    return diagnostics
