"""The PyMC model: whether each ally endorses the candidate (cure fraction) and when (survival)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import arviz as az
import numpy as np
import pymc as pm
import xarray as xr

from forecast import __version__
from forecast.data.inputs import ModelInputs
from forecast.data.reference import CAMPAIGN_COVARIATES
from forecast.model import ally_level, campaign_level, sampling
from forecast.model.config import (
    DEFAULT_MODEL_CONFIG,
    DEFAULT_SAMPLER_CONFIG,
    SAMPLERS,
    config_hash,
    merged,
    validated,
)
from forecast.model.nutpie_blocks import NutpieBlocks
from forecast.source import source_digest

logger = logging.getLogger(__name__)


class NotFittedError(RuntimeError):
    """A method that needs a posterior was called before ``fit()``."""


class ConfigMismatchError(ValueError):
    """A stored fit was made with another model configuration or package version."""


class ConfirmationModel:
    """Bayesian model of a consensus appointment, in two blocks sampled apart.

    The per-ally block (``forecast.model.ally_level``): whether each ally endorses the
    candidate (a cure fraction, logit-linear in blocs, spending, grievances, rival
    candidacies and objections) and when (log-normal or Weibull time from the campaign
    start), undecided allies right-censored at the cut-off. The campaign level
    (``forecast.model.campaign_level``): whether the endgame brings every holdout in, and
    how long after the front-runner's emergence, learned from the reference class. The
    blocks share no parameter and no observation, so the joint posterior is their product;
    ``fit`` samples both and joins them chain by chain.

    Parameters
    ----------
    inputs
        The input frame at the first cut-off (fixes the ally and bloc coordinates).
    model_config
        Overrides of ``default_model_config`` (priors, timing form).
    sampler_config
        Overrides of ``default_sampler_config``.
    """

    default_model_config: ClassVar[dict[str, Any]] = DEFAULT_MODEL_CONFIG
    default_sampler_config: ClassVar[dict[str, Any]] = DEFAULT_SAMPLER_CONFIG

    @classmethod
    def config(cls, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``default_model_config`` with ``overrides`` merged over it."""
        return merged(overrides)

    def __init__(
        self,
        inputs: ModelInputs,
        model_config: dict[str, Any] | None = None,
        sampler_config: dict[str, Any] | None = None,
    ):
        self.model_config, self.sampler_config = validated(model_config, sampler_config)
        self.inputs = inputs
        self.organisations = campaign_level.organisations(inputs.reference, inputs.organisation)
        self.ally_coords = {"ally": list(inputs.frame.index), "bloc": list(inputs.blocs.columns)}
        self.coords = {
            **self.ally_coords,
            "campaign": [c.id for c in inputs.reference],
            "campaign_covariate": list(CAMPAIGN_COVARIATES),
            "organisation": self.organisations,
        }
        self._model: pm.Model | None = None
        self._campaign_model: pm.Model | None = None
        # The inputs whose data each PyMC model holds, by block (``_holding_inputs``).
        self._held: dict[str, ModelInputs] = {}
        # Both blocks compiled for nutpie (on the first nutpie fit or ``compile``), with
        # the campaign level's last fit.
        self.nutpie = NutpieBlocks(self.model_config, self.organisations)
        self.idata: az.InferenceData | None = None
        self.sample_seconds: float | None = None
        self.campaign_reused = False
        # A loaded posterior's model code (``source.source_digest``) when it is not this
        # code's: its draws are read as they are, and the reader is told.
        self.made_by_other_code: str | None = None
        # The settings of the last fit (the configured ones with that fit's overrides).
        self.fit_sampler_config: dict[str, Any] = {**self.sampler_config}

    @property
    def timing(self) -> str:
        return self.model_config["timing"]

    @property
    def config_hash(self) -> str:
        """Fingerprint of the model configuration and of the model's code."""
        return config_hash(self.model_config)

    def _data_values(self, inputs: ModelInputs) -> dict[str, np.ndarray]:
        """The per-ally ``pm.Data`` for a cut-off, on the allies and blocs built for."""
        if list(inputs.frame.index) != self.coords["ally"] or list(inputs.blocs.columns) != list(
            self.coords["bloc"]
        ):
            raise ValueError("inputs have other allies or blocs than the model was built for")
        return ally_level.data_values(inputs)

    def _campaign_values(self, inputs: ModelInputs) -> dict[str, np.ndarray]:
        return campaign_level.data_values(self.model_config, inputs, self.organisations)

    def build_model(self) -> pm.Model:
        """Build (once) the per-ally block of the model on the first cut-off's data.

        ``model`` is the per-ally block; ``campaign_model`` is the campaign level
        (``campaign_level.reference_model``, built when first read). They share no parameter
        and no observation, so the joint posterior is their product and each block is
        sampled on its own.
        """
        values = self._data_values(self.inputs)
        model = ally_level.ally_model(self.model_config, values, self.ally_coords)
        self._model, self._held["allies"] = model, self.inputs
        return model

    @property
    def model(self) -> pm.Model | None:
        """The per-ally block as a PyMC model (None until built), holding the current
        cut-off's data.

        nutpie's fits give the compiled block its data from ``inputs`` (``with_data``),
        so this model's data are set only when it is read (by ``pm.sample``, the
        log-likelihood or the predictive checks): ``pm.set_data`` evaluates each
        dimension's length with PyTensor's C backend, whose first use in a process loads
        its module cache, about 0.7 s and 50 MB of a worker's first rerun.
        """
        if self._model is None:
            return None
        return self._holding_inputs(self._model, "allies", self._data_values)

    @property
    def campaign_model(self) -> pm.Model:
        """The campaign level as a PyMC model, holding the current cut-off's data.

        nutpie's fits compile their own copy (``campaign_level.compiled_reference_model``)
        and give it its data from ``inputs`` (``with_data``), so this model is built, and
        its data set, only when it is read (by ``pm.sample`` or the prior predictive):
        building it took 0.5 s of a worker's start, and the first
        ``pm.set_data`` of a process compiles a function per dimension, 0.7 s more.
        """
        if self._campaign_model is None:
            self._campaign_model = campaign_level.reference_model(
                self.model_config, self.inputs.reference, self.organisations
            )
        return self._holding_inputs(self._campaign_model, "campaign", self._campaign_values)

    def _holding_inputs(
        self,
        model: pm.Model,
        block: str,
        values: Callable[[ModelInputs], dict[str, np.ndarray]],
    ) -> pm.Model:
        """``model`` (the PyMC model of ``block``) given the current cut-off's data,
        unless it holds them already."""
        if self._held.get(block) is not self.inputs:
            with model:
                pm.set_data(values(self.inputs))
            self._held[block] = self.inputs
        return model

    def set_inputs(self, inputs: ModelInputs) -> None:
        """Swap in another cut-off's data; the compiled model is reused, not rebuilt."""
        self._data_values(inputs)  # the same allies and blocs, or ValueError
        self.inputs = inputs

    def compile(self) -> None:
        """Build the model and compile it for the default sampler now, not at the first fit."""
        if self._model is None:
            self.build_model()
        if self.sampler_config["sampler"] == "nutpie":
            self.nutpie.compile(self._model, self.inputs.reference)

    def fit(
        self,
        inputs: ModelInputs | None = None,
        *,
        random_seed: int,
        sampler: str | None = None,
        sampler_overrides: dict[str, Any] | None = None,
    ) -> az.InferenceData:
        """Sample the posterior at ``inputs`` (or the current cut-off).

        Parameters
        ----------
        inputs
            A new cut-off's input frame; the compiled model is reused.
        random_seed
            Seed of the sampler: the same seed and inputs give the same draws.
        sampler
            ``"nutpie"`` (default, compiled once per process) or ``"pymc"`` (``pm.sample``).
        sampler_overrides
            Settings merged over ``sampler_config`` for this fit only.

        Returns
        -------
        arviz.InferenceData
            Posterior and sample stats, with the configs in its attributes.
        """
        if self._model is None:
            self.build_model()
        if inputs is not None:
            self.set_inputs(inputs)
        sampler = sampler or self.sampler_config["sampler"]
        if sampler not in SAMPLERS:
            raise ValueError(f"sampler {sampler!r} is not known; valid: {', '.join(SAMPLERS)}")
        cfg = {**self.sampler_config, **(sampler_overrides or {})}
        self.fit_sampler_config = {**cfg, "sampler": sampler}
        if sampler == "nutpie":
            self.nutpie.compile(self._model, self.inputs.reference)  # on the first fit
            allies, campaign = self.nutpie.with_data(
                self._data_values(self.inputs), self._campaign_values(self.inputs)
            )
            started = time.perf_counter()
            idata = self.nutpie.sample(allies, campaign, cfg, random_seed)
        else:
            started = time.perf_counter()
            idata = sampling.pm_sample_blocks(self.model, self.campaign_model, cfg, random_seed)
        self.sample_seconds = time.perf_counter() - started
        # Whether the campaign level's draws are the last fit's (same data, settings, seed).
        self.campaign_reused = sampler == "nutpie" and self.nutpie.campaign_reused
        idata.attrs.update(self._attrs(random_seed))
        self.idata = idata
        return idata

    def _attrs(self, seed: int) -> dict[str, str]:
        return {
            "model_config": json.dumps(self.model_config, sort_keys=True),
            "sampler_config": json.dumps(self.fit_sampler_config),
            "package_version": __version__,
            "config_hash": self.config_hash,
            "model_code": source_digest(),
            "random_seed": str(seed),
            "sample_seconds": f"{self.sample_seconds:.4f}",
        }

    @property
    def parameter_names(self) -> list[str]:
        """Names of the sampled parameters (not the deterministics)."""
        if self._model is None:
            self.build_model()
        campaign = campaign_level.parameter_names(
            self.model_config, self.inputs.reference, self.organisations
        )
        return [rv.name for rv in self._model.free_RVs] + campaign

    def require_fit(self) -> az.InferenceData:
        if self.idata is None:
            raise NotFittedError("this model has no posterior yet: call fit() first")
        return self.idata

    def log_likelihood(self) -> az.InferenceData:
        """Add pointwise log-likelihoods of the member allies to the posterior, for LOO."""
        idata = self.require_fit()
        if "log_likelihood" not in idata.groups():
            pm.compute_log_likelihood(
                idata, var_names=["endorsement"], model=self.model, progressbar=False
            )
            # Non-members are not observations (their term is 0 in every draw), and a
            # constant column gives LOO an infinite Pareto k.
            members = self.inputs.frame.index[self.inputs.frame["member"] > 0]
            idata.log_likelihood = idata.log_likelihood.sel(ally=list(members))
        return idata

    def sample_prior_predictive(self, draws: int, random_seed: int) -> az.InferenceData:
        """Prior draws of parameters and simulated endorsement days, for prior checks."""
        if self._model is None:
            self.build_model()
        # Each block its own seed, as in the fit: the blocks are independent a priori too.
        allies_seed, campaign_seed = sampling.block_seeds(random_seed)
        with self.model:
            prior = pm.sample_prior_predictive(draws=draws, random_seed=allies_seed)
        with self.campaign_model:
            campaign = pm.sample_prior_predictive(draws=draws, random_seed=campaign_seed)
        prior.prior = xr.merge([prior.prior, campaign.prior], compat="override")
        return prior

    def sample_posterior_predictive(self, random_seed: int) -> az.InferenceData:
        """Simulated endorsement days under the posterior (``inf`` = never), for PPC."""
        idata = self.require_fit()
        with self.model:
            return pm.sample_posterior_predictive(
                idata, var_names=["endorsement"], random_seed=random_seed, progressbar=False
            )

    def save(self, path: Path | str) -> Path:
        """Write the posterior as netCDF, configs and version in its attributes."""
        return sampling.write_posterior(self.require_fit(), path)

    @classmethod
    def load(cls, path: Path | str, inputs: ModelInputs) -> ConfirmationModel:
        """Rebuild a fitted model from a saved posterior.

        Raises
        ------
        ConfigMismatchError
            If the file was written by another package version, or its config hash is
            not that of its config and the model code it names (an edited or foreign
            file). A posterior of other model code is read, with ``made_by_other_code``
            set and a warning logged.
        """
        idata = az.from_netcdf(str(path), engine="h5netcdf")
        attrs = idata.attrs
        if attrs.get("package_version") != __version__:
            raise ConfigMismatchError(
                f"{path} was written by version {attrs.get('package_version')!r}, "
                f"this is {__version__!r}"
            )
        model = cls(
            inputs,
            model_config=json.loads(attrs["model_config"]),
            sampler_config=json.loads(attrs["sampler_config"]),
        )
        made_by = attrs.get("model_code")
        if config_hash(model.model_config, made_by) != attrs.get("config_hash"):
            raise ConfigMismatchError(
                f"{path} has config hash {attrs.get('config_hash')!r}, not that of its config "
                "and the model code it names (an edited or foreign file)"
            )
        if made_by != source_digest():
            model.made_by_other_code = made_by
            logger.warning(
                "%s was fitted by other model code (%s, this is %s): read as it is, not as "
                "this code would fit it",
                path,
                made_by,
                source_digest(),
            )
        model.build_model()
        model.idata = idata
        model.sample_seconds = float(attrs.get("sample_seconds", "nan"))
        return model
