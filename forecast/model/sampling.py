"""Sampling with nutpie, for either block: run a compiled model, read its raw trace, join
the two blocks' fits, and write a posterior to disk."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import arviz as az
import numpy as np
import pymc as pm
import xarray as xr

from forecast.digest import add_array
from forecast.files import replacing


def sample(compiled: Any, settings: Mapping[str, Any], seed: int, *, blocking: bool = True) -> Any:
    """Sample a compiled model with nutpie: ``chains``, ``tune``, ``draws`` and
    ``target_accept`` from ``settings``. Returns the InferenceData, or with
    ``blocking=False`` a sampler running in the background (``read_trace`` of its
    ``wait()`` is the InferenceData)."""
    import nutpie

    running = nutpie.sample(
        compiled,
        draws=settings["draws"],
        tune=settings["tune"],
        chains=settings["chains"],
        seed=seed,
        target_accept=settings["target_accept"],
        progress_bar=False,
        save_warmup=False,
        return_raw_trace=True,
        blocking=blocking,
    )
    return read_trace(running, compiled.coords) if blocking else running


def block_seeds(seed: int) -> tuple[int, int]:
    """Independent seeds of the per-ally block and the campaign level, drawn from ``seed``
    by NumPy's ``SeedSequence``: with one seed for both, chain k of one block and chain k
    of the other would start from the same random stream, and their draws, joined by
    chain and draw, would not be independent."""
    allies, campaign = np.random.SeedSequence(seed).spawn(2)
    return int(allies.generate_state(1)[0]), int(campaign.generate_state(1)[0])


# The campaign level samples at least at this target acceptance. With focal points, at
# 0.9 a sporadic divergence (10 in 44,800 draws, at small endgame spreads) made 9 of 16
# fits on the shipped data miss the gate; at 0.95, 1 of 32 fits over two cut-offs (0.97
# was no better). The block is small: the smaller steps cost little beside the per-ally
# block sampled at the same time.
CAMPAIGN_MIN_TARGET_ACCEPT = 0.95


def campaign_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The sampler settings of the campaign level: ``settings`` with its target floor."""
    target = max(settings["target_accept"], CAMPAIGN_MIN_TARGET_ACCEPT)
    return {**settings, "target_accept": target}


def sample_blocks(
    allies: Any,
    campaign: Any,
    settings: Mapping[str, Any],
    seed: int,
    campaign_fits: CampaignFits,
) -> az.InferenceData:
    """Both blocks, compiled for nutpie, sampled side by side and joined (``joined``).

    The per-ally block samples in the background while the campaign level samples (at
    ``campaign_settings``) and is read out here, unless ``campaign_fits`` holds a
    campaign-level fit of the same data, settings and seed. Each block has its own seed
    (``block_seeds``).
    """
    allies_seed, campaign_seed = block_seeds(seed)
    running = sample(allies, settings, allies_seed, blocking=False)
    campaign_fit = campaign_fits.fit(campaign, campaign_settings(settings), campaign_seed)
    return joined(read_trace(running.wait(), allies.coords), campaign_fit)


class CampaignFits:
    """The last campaign-level fit of one compiled model, reused while nothing it depends
    on has changed.

    nutpie's draws are a function of the compiled model, its data, the sampler settings
    and the seed. Evidence that moves none of the campaign level's data (the reference
    class, the current campaign's covariates, holdouts, calendar and days elapsed) leaves
    its fit exactly as a new sampling would make it, so a rerun takes it from here and
    samples only the per-ally block: about half of a warm rerun's sampling. The joined
    fit is diagnosed and gated whole, as any other.
    """

    def __init__(self) -> None:
        self._key: str | None = None
        self._fit: az.InferenceData | None = None
        # The compiled log-density the kept fit was sampled with: ``with_data`` copies of
        # one compiled model share it, another compiled model (a changed graph with data
        # of the same shapes) does not. Held, so its identity cannot pass to a new object.
        self._logp: Any = None
        self.reused = False  # whether the last ``fit`` was taken from here

    @staticmethod
    def key(compiled: Any, settings: Mapping[str, Any], seed: int) -> str:
        """A digest of everything a fit of ``compiled`` (one compiled model) depends on
        besides the model itself (``fit`` checks that by identity): each data array's
        name, dtype, shape and bytes, the settings and the seed."""
        digest = hashlib.sha256(repr((sorted(settings.items()), int(seed))).encode())
        for name in sorted(compiled.shared_data):
            add_array(digest, compiled.shared_data[name], name)
        return digest.hexdigest()

    def fit(self, compiled: Any, settings: Mapping[str, Any], seed: int) -> az.InferenceData:
        """The fit of ``compiled`` at ``settings`` and ``seed``: the last one if its key
        matches, else sampled now (and kept)."""
        key = self.key(compiled, settings, seed)
        logp = compiled.compiled_logp_func
        self.reused = key == self._key and logp is self._logp
        if not self.reused:
            self._fit, self._key, self._logp = None, None, None  # a failure keeps nothing
            self._fit, self._key, self._logp = sample(compiled, settings, seed), key, logp
        return self._fit


def pm_sample_blocks(
    allies: pm.Model, campaign: pm.Model, settings: Mapping[str, Any], seed: int
) -> az.InferenceData:
    """Both blocks sampled with ``pm.sample`` one after the other, then joined.

    PyMC's own NUTS, on the log-density compiled by PyTensor's numba backend, as
    nutpie's is, rather than by its C backend, which compiles each operation with a C
    compiler: the cross-check of the two samplers on the test model took 94 s instead of
    181 s from empty compile caches."""
    blocks = []
    for block, block_settings, block_seed in zip(
        (allies, campaign), (settings, campaign_settings(settings)), block_seeds(seed), strict=True
    ):
        with block:
            blocks.append(
                pm.sample(
                    draws=block_settings["draws"],
                    tune=block_settings["tune"],
                    chains=block_settings["chains"],
                    target_accept=block_settings["target_accept"],
                    random_seed=block_seed,
                    progressbar=False,
                    compute_convergence_checks=False,
                    compile_kwargs={"mode": "NUMBA"},
                )
            )
    return joined(*blocks)


# Sampler statistics kept per draw (``diverging`` is the one the gate reads).
SAMPLE_STATS: tuple[str, ...] = (
    "diverging",
    "n_steps",
    "step_size",
    "depth",
    "maxdepth_reached",
    "energy",
    "energy_error",
    "mean_tree_accept",
    "logp",
)


def read_trace(results: Any, coords: Mapping[str, Any]) -> az.InferenceData:
    """The posterior and sampler statistics of a raw nutpie trace, warm-up dropped.

    The same arrays as nutpie's own conversion, which goes through ``arviz.from_dict``
    for every variable of the warm-up and the draws and took a tenth of a second per
    fit: a tenth of a rerun.
    """
    draw_batches, stat_batches = results.get_arrow_trace()
    kept = [~_column(stats, "tuning", ()).astype(bool) for stats in stat_batches]

    def group(batches: Sequence[Any], names: Sequence[str]) -> xr.Dataset:
        variables = {}
        for name in names:
            meta = batches[0].column(name).field.metadata
            dims = meta[b"dims"].decode().split(",") if meta.get(b"dims") else []
            shape = [int(n) for n in meta[b"shape"].decode().split(",")] if dims else []
            values = [_column(b, name, shape)[k] for b, k in zip(batches, kept, strict=True)]
            variables[name] = (("chain", "draw", *dims), np.stack(values))
        chains, draws = len(batches), int(kept[0].sum())
        used = {d for dims, _ in variables.values() for d in dims[2:]}
        return xr.Dataset(
            variables,
            coords={
                "chain": np.arange(chains),
                "draw": np.arange(draws),
                **{k: np.asarray(v) for k, v in coords.items() if k in used},
            },
        )

    stats = [name for name in SAMPLE_STATS if name in stat_batches[0].column_names]
    return az.InferenceData(
        posterior=group(draw_batches, draw_batches[0].column_names),
        sample_stats=group(stat_batches, stats),
    )


def _column(batch: Any, name: str, shape: Sequence[int]) -> np.ndarray:
    """One column of an Arrow record batch as a (row, *shape) array."""
    import pyarrow

    column = pyarrow.array(batch.column(name))
    if hasattr(column, "flatten"):  # a vector per row
        column = column.flatten()
    return column.to_numpy(zero_copy_only=False).reshape(batch.num_rows, *shape)


def joined(allies: az.InferenceData, campaign: az.InferenceData) -> az.InferenceData:
    """One InferenceData of the two blocks' fits, chain ``k`` of each paired.

    The posterior holds both blocks' variables; the campaign block's sampler statistics
    are kept beside the per-ally block's with a ``campaign_`` prefix (the gate counts the
    divergences of both).
    """
    joint = allies.copy()
    joint.posterior = xr.merge([allies.posterior, campaign.posterior], compat="override")
    stats = campaign.sample_stats
    joint.sample_stats = joint.sample_stats.assign(
        {f"campaign_{name}": stats[name] for name in ("diverging", "n_steps") if name in stats}
    )
    return joint


def write_posterior(idata: az.InferenceData, path: Path | str) -> Path:
    """Write a fit's posterior as netCDF (configs and version are in its attributes)."""
    path = Path(path)
    with replacing(path) as partial:  # a reader never opens half a file
        idata.to_netcdf(str(partial), engine="h5netcdf")
    return path
