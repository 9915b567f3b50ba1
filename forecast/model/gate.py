"""The diagnostics gate: a fit is published only if it converged (thresholds in one place)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import arviz as az
import msgspec
import numpy as np
import xarray as xr

from forecast.model import convergence

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


def count_divergences(idata: az.InferenceData) -> int:
    """Divergent transitions of every sampled block (``diverging``, ``campaign_diverging``)."""
    stats = idata.sample_stats
    blocks = ("diverging", "campaign_diverging")
    return sum(int(stats[name].sum()) for name in blocks if name in stats)


def diagnose(
    idata: az.InferenceData,
    derived: Mapping[str, np.ndarray],
    *,
    sampler: str,
    sample_seconds: float,
    config: GateConfig | None = None,
    parameters: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Measure convergence of the parameters and of every reported quantity.

    Parameters
    ----------
    idata
        The fit's posterior and sample stats.
    derived
        Reported quantities computed from the draws, each of shape (chain, draw[, ...]):
        P(confirmed by each deadline), per-ally probabilities.
    parameters
        The posterior variables to check (default: all of them). A caller passes the
        sampled parameters: deterministic intermediates that are not reported add
        nothing the parameters and the reported quantities do not already show.
    sampler, sample_seconds
        Recorded with the diagnostics.

    Returns
    -------
    dict
        ``passed``, ``r_hat_max``, ``ess_bulk_min``, ``ess_tail_min``, ``divergences``,
        ``failures`` (one line per threshold missed), ``sampler``, ``sample_seconds``,
        ``checked`` (the names of the quantities checked).
    """
    config = config or GateConfig()
    posterior = idata.posterior
    checked = _checked_quantities(posterior, derived, parameters)
    r_hat, ess_bulk, ess_tail = convergence.summary(_varying_rows(checked, posterior))

    def extreme(values: np.ndarray, fn) -> float:
        # NaN (a quantity with NaN draws) propagates, and so fails its threshold.
        return float(fn(values)) if values.size else float("nan")

    result = {
        "r_hat_max": extreme(r_hat, np.max),
        "ess_bulk_min": extreme(ess_bulk, np.min),
        "ess_tail_min": extreme(ess_tail, np.min),
        "divergences": count_divergences(idata),
        "sampler": sampler,
        "sample_seconds": round(float(sample_seconds), 4),
        "chains": int(posterior.sizes["chain"]),
        "draws": int(posterior.sizes["draw"]),
        "thresholds": msgspec.structs.asdict(config),
        # What was checked, by name (a test pins the set a real fit sends).
        "checked": sorted(checked.data_vars),
    }
    result["failures"] = _failures(result, config)
    result["passed"] = not result["failures"]
    return result


def _checked_quantities(
    posterior: xr.Dataset, derived: Mapping[str, np.ndarray], parameters: Sequence[str] | None
) -> xr.Dataset:
    """The parameters checked and the reported quantities, as one dataset."""
    checked_posterior = posterior if parameters is None else posterior[list(parameters)]
    extra = xr.Dataset(
        {
            name: xr.DataArray(
                np.asarray(v),
                dims=("chain", "draw", *[f"{name}_dim_{i}" for i in range(np.ndim(v) - 2)]),
            )
            for name, v in derived.items()
        }
    )
    return xr.merge([checked_posterior.drop_vars(["chain", "draw"]), extra], compat="override")


def _varying_rows(checked: xr.Dataset, posterior: xr.Dataset) -> np.ndarray:
    """Every scalar quantity as one row of a (quantity, chain, draw) stack; quantities that
    are the same in every draw (an ally already endorsed) have no R-hat or ESS."""
    stack = np.concatenate(
        [
            np.moveaxis(v.values.reshape(v.shape[0], v.shape[1], -1), 2, 0)
            for v in checked.data_vars.values()
        ]
        or [np.zeros((0, posterior.sizes["chain"], posterior.sizes["draw"]))]
    )
    return stack[~(np.ptp(stack.reshape(len(stack), -1), axis=1) <= 1e-12)]  # NaN rows stay


def _failures(result: Mapping[str, Any], config: GateConfig) -> list[str]:
    """One line per threshold missed."""
    failures = []
    if not result["r_hat_max"] <= config.r_hat_max:
        failures.append(f"R-hat {result['r_hat_max']:.4f} > {config.r_hat_max}")
    if not result["ess_bulk_min"] >= config.ess_bulk_min:
        failures.append(f"bulk ESS {result['ess_bulk_min']:.0f} < {config.ess_bulk_min:.0f}")
    if not result["ess_tail_min"] >= config.ess_tail_min:
        failures.append(f"tail ESS {result['ess_tail_min']:.0f} < {config.ess_tail_min:.0f}")
    if result["divergences"] > config.divergences_max:
        failures.append(f"{result['divergences']} divergences > {config.divergences_max}")
    return failures


def check(diagnostics: dict[str, Any]) -> dict[str, Any]:
    """Return the diagnostics if they passed; raise ``GateFailed`` otherwise."""
    if not diagnostics["passed"]:
        raise GateFailed(diagnostics)
    return diagnostics
