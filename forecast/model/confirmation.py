"""The PyMC model: whether each ally endorses the candidate (cure fraction) and when (survival)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import arviz as az
import numpy as np
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from forecast import __version__
from forecast.data.inputs import SPONSOR_DAY, ModelInputs
from forecast.model import campaign_level
from forecast.posterior.timing import TIMING_FORMS

logger = logging.getLogger(__name__)

SAMPLERS: tuple[str, ...] = ("nutpie", "pymc")


class NotFittedError(RuntimeError):
    """A method that needs a posterior was called before ``fit()``."""


class ConfigMismatchError(ValueError):
    """A stored fit was made with another model configuration or package version."""


_SQRT_HALF = float(np.sqrt(0.5))


def _timing_log_probabilities(form: str, location, shape):
    """``log F(x)``, ``log S(x)`` and ``log P(a < T <= b)`` of the timing distribution,
    with few special-function calls (they set the cost of the sampler's gradient).

    Log-normal: logs of ``erfc``, which keeps its relative precision in both tails to
    about 37 sds from the median (days of 1e-16 to 1e16 times the median here); the
    interval is a difference of CDFs below the median and of survival functions above
    it, so no probability near 1 is subtracted from another. Weibull: exact in the log
    scale through the cumulative hazard.
    """

    def log_scaled(x):
        return pt.log(pt.maximum(x, 1e-12)) - location

    if form == "lognormal":

        def tail(z):  # P(Z > z)
            return 0.5 * pt.erfc(_SQRT_HALF * z)

        def log_cdf(x):
            return pt.log(tail(-log_scaled(x) / shape))

        def log_sf(x):
            return pt.log(tail(log_scaled(x) / shape))

        def log_interval(a, b):
            z_a, z_b = log_scaled(a) / shape, log_scaled(b) / shape
            side = pt.switch(z_a >= 0.0, 1.0, -1.0)  # survival functions above the median
            return pt.log(side * (tail(side * z_a) - tail(side * z_b)))

    else:

        def hazard(x):  # cumulative hazard (x / scale)^k
            return pt.exp(shape * log_scaled(x))

        def log_cdf(x):
            return pt.log(-pt.expm1(-hazard(x)))

        def log_sf(x):
            return -hazard(x)

        def log_interval(a, b):
            h_a = hazard(a)
            return -h_a + pt.log(-pt.expm1(h_a - hazard(b)))

    return log_cdf, log_sf, log_interval


def _endorsement_logp(form: str):
    """Log-likelihood of one ally's record under the cure-fraction survival model.

    An endorsement reported with reliability r is true with probability r; if false the
    ally is simply still undecided at the cut-off (right-censored there):
    ``r * pi * f(t) + (1 - r) * [(1 - pi) + pi * S(c)]``. Allies that are not members
    contribute nothing (weight 0).
    """

    def logp(
        value, p_endorse, location, shape, event, reliability, censor_day, member, wave, window
    ):
        log_cdf, log_sf, log_interval = _timing_log_probabilities(form, location, shape)
        undecided = pm.math.logaddexp(pt.log1p(-p_endorse), pt.log(p_endorse) + log_sf(censor_day))
        # T is the day an ally decides. A public endorsement (reliability 1) reported on
        # day t was decided within ``window`` days before the end of t (the report follows
        # the decision by a uniform lag): F(t + 1/2) - F(t + 1/2 - window). A point density
        # made many reports on one day an unbounded pull on the timing spread (the
        # sampler's divergences); the interval is bounded. A report of support with
        # reliability below 1 says only that support had been given by that day (the CDF).
        # A wave (many members announcing on one day, forecast.data.inputs.WAVE_SIZE) says
        # only "decided by then" as well. The sponsoring government backs its candidate
        # from day one (day <= 1): that says nothing about how long allies take, so it
        # carries no timing term.
        end = value + 0.5
        public = log_interval(pt.maximum(end - window, 0.5), end)
        by_then = (reliability < 1.0) | (wave > 0)
        timing_term = pt.switch(by_then, log_cdf(value), public)
        endorsed = pt.log(p_endorse) + pt.switch(value <= SPONSOR_DAY, 0.0, timing_term)
        # log(r e^a + (1 - r) e^b) written as a + log(r + (1 - r) e^(b - a)); the clip only
        # keeps the unused branch finite so that its gradient cannot poison the switch.
        gap = pt.clip(undecided - endorsed, -50.0, 50.0)
        reported = endorsed + pt.log(reliability + (1.0 - reliability) * pt.exp(gap))
        return member * pt.switch(event > 0, reported, undecided)

    return logp


def _endorsement_random(form: str):
    """Simulate endorsement days (``inf`` for an ally that never endorses)."""

    def random(
        p_endorse, location, shape, event, reliability, censor_day, member, wave, window, rng, size
    ):
        from forecast.posterior import timing

        size = size or np.broadcast_shapes(np.shape(p_endorse), np.shape(location))
        days = timing.sample(form, np.broadcast_to(location, size), shape, rng)
        endorses = rng.uniform(size=size) < p_endorse
        return np.where(endorses, days, np.inf)

    return random


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
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written beside and renamed: a reader never opens half a file.
    partial = path.with_name(path.name + ".partial")
    idata.to_netcdf(str(partial), engine="h5netcdf")
    os.replace(partial, path)
    return path


class ConfirmationModel:
    """Bayesian model of each ally's endorsement (whether and when).

    Eventual endorsement: ``logit(pi_i) = intercept + sum_b bloc_effect_b * in_bloc_ib +
    b_spend * spending_z_i + b_griev * grievance_i + b_rival * rival_i + b_obj * objection_i``
    with bloc effects partially pooled (non-centred, fixed between-bloc sd). Timing, for
    allies that endorse: log-normal or Weibull time from the campaign start with log-scale
    location ``tau0 + d_griev * grievance_i + d_rival * rival_i + d_obj * objection_i``.
    Undecided allies are right-censored at the cut-off. The formal decision follows the
    last consent after ``decision_lag`` days (prior only, from past appointments).

    Parameters
    ----------
    inputs
        The input frame at the first cut-off (fixes the ally and bloc coordinates).
    model_config
        Overrides of ``default_model_config`` (priors, timing form).
    sampler_config
        Overrides of ``default_sampler_config``.
    """

    default_model_config: ClassVar[dict[str, Any]] = {
        "timing": "lognormal",
        # Base rate: in the last three appointments (2003, 2009, 2014) every ally
        # consented in the end, about 80 ally decisions without a lasting veto: logit 3
        # is pi = 0.95; sd 1 still allows 0.7-0.99 for a typical ally.
        "intercept_mu": 3.0,
        "intercept_sd": 1.0,
        # Between-bloc sd of the bloc effects (fixed): blocs shift an ally's logit by up to
        # about +-1, not decide it alone.
        "bloc_scale": 0.5,
        # Spending per sd across allies: a small effect of either sign a priori.
        "spend_prior_sd": 0.5,
        # Each severity point of an open grievance lowers the logit: a serious (2) one by
        # about 1 (pi 0.95 -> 0.88), a blocking (3) one by about 1.5 on average.
        "griev_prior_mu": -0.5,
        "griev_prior_sd": 0.3,
        # An ally fielding its own candidate does not endorse while the candidacy stands.
        "rival_prior_mu": -2.5,
        "rival_prior_sd": 1.0,
        # A public objection (refusal or conditions) lowers the chance of endorsing.
        "objection_prior_mu": -1.5,
        "objection_prior_sd": 0.75,
        # Median time to endorse from the campaign start: about five months (past
        # Secretary General contests took three to six), log-scale sd 0.5.
        "tau0_mu_days": 150.0,
        "tau0_sd": 0.5,
        # Between-bloc sd of the bloc timing shifts (log-scale, fixed): a bloc may be about
        # half again as fast or slow as the rest.
        "bloc_delay_scale": 0.4,
        # Delays (log-scale, per unit of covariate): open grievances, a rival candidacy and
        # objections postpone an endorsement; each centred on +20-50% per unit.
        "delay_griev_mu": 0.2,
        "delay_griev_sd": 0.2,
        "delay_rival_mu": 0.5,
        "delay_rival_sd": 0.3,
        "delay_objection_mu": 0.3,
        "delay_objection_sd": 0.3,
        # Spread of endorsement times between allies (log-normal sigma / Weibull k).
        # Spread of one ally's decision around its bloc's timing: governments of a bloc
        # move within weeks of each other (sigma 0.45: middle 50% within a factor 1.35);
        # little mass below 0.25, where the sampler met divergences (steep CDFs).
        "lognormal_sigma_mu": 0.45,
        "lognormal_sigma_sd": 0.1,
        # Weibull k: 2 (hazard rising with time) with room for 1 (constant) to 3.5.
        "weibull_k_mu": 2.0,
        "weibull_k_sd": 0.75,
        # Days from the last consent to the formal decision of the North Atlantic Council:
        # past appointments were formalised the same day to a few days later.
        "decision_lag_mu_days": 5.0,
        "decision_lag_sd_days": 4.0,
        # A public endorsement is reported within this many days after the decision
        # (uniformly): the report's day is read as an interval, not a point. Several
        # governments announcing on one day then do not drive the timing spread to zero.
        "endorsement_window_days": 7.0,
        # The campaign level (forecast/model/campaign_level.py), learned from
        # data/campaigns.csv; the scales below were chosen by leave-one-out scores on the
        # reference class (docs/model.md lists every variant tried).
        # Log-odds that the endgame brings every holdout in: a front-runner is the
        # candidate with the broadest support, so more likely than not (0.73), anywhere
        # from 0.3 to 0.95.
        "success_intercept_mu": 1.0,
        "success_intercept_sd": 1.0,
        # Per covariate (its value on the day the front-runner emerged): no direction
        # assumed and a small scale. On the 14 past campaigns these covariates did not
        # predict the outcome (with +-1 logit priors, leave-one-out scores were worse than
        # the base rate); they may move a forecast by about a quarter of a logit.
        "success_coef_mu": {
            "all_largest_backed": 0.0,
            "heavyweight_objection": 0.0,
            "rival_candidacy": 0.0,
        },
        "success_coef_sd": 0.25,
        # Days from emergence to the endgame: consensus bodies settle a front-runner's
        # bid within weeks to months (median 45 days, 94% of prior mass 10-200 days).
        "endgame_mu_days": 45.0,
        "endgame_mu_sd": 0.75,
        # Typical spread of endgame days between campaigns of one organisation (log
        # scale): a factor of about 2.5 either way.
        "endgame_shape_mu": 0.9,
        "endgame_shape_sd": 0.3,
        # Organisations differ in procedure (fixed between-organisation sds): their
        # endgames shift by up to about a factor of 2.7 (sd 1 on the log scale) ...
        "org_scale": 1.0,
        # ... in whether the endgame brings everyone in: sd 0.5 logit ...
        "org_success_scale": 0.5,
        # ... and in the spread of their endgames: a factor of about 1.5 either way (sd of
        # the log of an organisation's spread).
        "org_shape_sd": 0.4,
        # A past campaign's days from emergence to outcome are read as the week up to its
        # outcome day (emergence dates are first reports, often approximate).
        "reference_window_days": 7.0,
    }
    default_sampler_config: ClassVar[dict[str, Any]] = {
        "sampler": "nutpie",
        "chains": 4,
        "tune": 150,
        "draws": 700,
        "target_accept": 0.9,
    }

    @classmethod
    def config(cls, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``default_model_config`` with ``overrides`` merged over it."""
        return {**cls.default_model_config, **(overrides or {})}

    def __init__(
        self,
        inputs: ModelInputs,
        model_config: dict[str, Any] | None = None,
        sampler_config: dict[str, Any] | None = None,
    ):
        unknown = set(model_config or {}) - set(self.default_model_config)
        if unknown:
            raise ValueError(
                f"unknown model_config keys {sorted(unknown)}; valid: "
                f"{', '.join(sorted(self.default_model_config))}"
            )
        self.model_config = self.config(model_config)
        self.sampler_config = {**self.default_sampler_config, **(sampler_config or {})}
        if self.model_config["timing"] not in TIMING_FORMS:
            raise ValueError(
                f"model_config['timing'] {self.model_config['timing']!r} is not a timing form; "
                f"valid: {', '.join(TIMING_FORMS)}"
            )
        if self.sampler_config["sampler"] not in SAMPLERS:
            raise ValueError(
                f"sampler {self.sampler_config['sampler']!r} is not known; "
                f"valid: {', '.join(SAMPLERS)}"
            )
        self.inputs = inputs
        self.organisations = campaign_level.organisations(inputs.reference, inputs.organisation)
        self.ally_coords = {"ally": list(inputs.frame.index), "bloc": list(inputs.blocs.columns)}
        self.coords = {
            **self.ally_coords,
            "campaign": [c.id for c in inputs.reference],
            "campaign_covariate": list(campaign_level.COVARIATES),
            "organisation": self.organisations,
        }
        self.model: pm.Model | None = None
        self.campaign_model: pm.Model | None = None
        self._compiled = None
        self.idata: az.InferenceData | None = None
        self.sample_seconds: float | None = None
        self.compile_seconds: float | None = None
        # The settings of the last fit (the configured ones with that fit's overrides).
        self.fit_sampler_config: dict[str, Any] = {**self.sampler_config}

    @property
    def timing(self) -> str:
        return self.model_config["timing"]

    @property
    def config_hash(self) -> str:
        """Fingerprint of the model configuration and package version."""
        payload = json.dumps({"model": self.model_config, "version": __version__}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def _data_values(self, inputs: ModelInputs) -> dict[str, np.ndarray]:
        """The ``pm.Data`` contents for a cut-off: everything evidence can change."""
        frame = inputs.frame
        if list(frame.index) != self.coords["ally"] or list(inputs.blocs.columns) != list(
            self.coords["bloc"]
        ):
            raise ValueError("inputs have other allies or blocs than the model was built for")
        event = frame["event"].to_numpy(float)
        return {
            "in_bloc": inputs.blocs.to_numpy(float),
            "spending_z": frame["spending_z"].to_numpy(float),
            "grievance": frame["grievance"].to_numpy(float),
            "rival": frame["rival"].to_numpy(float),
            "objection": frame["objection"].to_numpy(float),
            "member": frame["member"].to_numpy(float),
            "event": event,
            "reliability": frame["reliability"].to_numpy(float),
            "censor_day": frame["censor_day"].to_numpy(float),
            "wave": frame["wave"].to_numpy(float),
            # Undecided allies carry their censoring day as a placeholder observation.
            "endorsement_day": np.where(
                event > 0, frame["event_day"].to_numpy(float), frame["censor_day"].to_numpy(float)
            ),
        }

    def _campaign_values(self, inputs: ModelInputs) -> dict[str, np.ndarray]:
        """The campaign level's ``pm.Data``: the reference class and the current campaign."""
        campaign = inputs.campaign
        return {
            **campaign_level.reference_values(inputs.reference, self.organisations),
            "campaign_x": np.asarray(campaign.covariates, dtype=float),
            "campaign_elapsed": np.asarray(campaign.elapsed, dtype=float),
            "campaign_open": np.asarray(float(not campaign.withdrawn)),
            "campaign_org": np.asarray(self.organisations.index(inputs.organisation), "int64"),
        }

    def build_model(self) -> pm.Model:
        """Build (once) the two blocks of the model on the first cut-off's data.

        ``model`` is the per-ally block; ``campaign_model`` is the campaign level
        (``campaign_level.reference_model``). They share no parameter and no observation, so
        the joint posterior is their product and each block is sampled on its own.
        """
        cfg = self.model_config
        values = self._data_values(self.inputs)
        self.campaign_model = campaign_level.reference_model(
            cfg, self.inputs.reference, self.organisations
        )
        with self.campaign_model:
            pm.set_data(self._campaign_values(self.inputs))
        with pm.Model(coords=self.ally_coords) as model:
            in_bloc = pm.Data("in_bloc", values["in_bloc"], dims=("ally", "bloc"))
            spending_z = pm.Data("spending_z", values["spending_z"], dims="ally")
            grievance = pm.Data("grievance", values["grievance"], dims="ally")
            rival = pm.Data("rival", values["rival"], dims="ally")
            objection = pm.Data("objection", values["objection"], dims="ally")
            member = pm.Data("member", values["member"], dims="ally")
            event = pm.Data("event", values["event"], dims="ally")
            reliability = pm.Data("reliability", values["reliability"], dims="ally")
            censor_day = pm.Data("censor_day", values["censor_day"], dims="ally")
            endorsement_day = pm.Data("endorsement_day", values["endorsement_day"], dims="ally")
            wave = pm.Data("wave", values["wave"], dims="ally")

            # Whether: reasons for each scale are in default_model_config and docs/model.md.
            intercept = pm.Normal("intercept", cfg["intercept_mu"], cfg["intercept_sd"])
            # The between-bloc sd is fixed: with four blocs the data can hardly pin it down,
            # and a learned sd's funnel was where the sampler diverged (docs/model.md).
            bloc_z = pm.Normal("bloc_z", 0.0, 1.0, dims="bloc")
            bloc_effect = pm.Deterministic("bloc_effect", cfg["bloc_scale"] * bloc_z, dims="bloc")
            b_spend = pm.Normal("b_spend", 0.0, cfg["spend_prior_sd"])
            b_griev = pm.Normal("b_griev", cfg["griev_prior_mu"], cfg["griev_prior_sd"])
            b_rival = pm.Normal("b_rival", cfg["rival_prior_mu"], cfg["rival_prior_sd"])
            b_obj = pm.Normal("b_obj", cfg["objection_prior_mu"], cfg["objection_prior_sd"])
            logit_p = (
                intercept
                + pt.dot(in_bloc, bloc_effect)
                + b_spend * spending_z
                + b_griev * grievance
                + b_rival * rival
                + b_obj * objection
            )
            p_endorse = pm.Deterministic("p_endorse", pm.math.sigmoid(logit_p), dims="ally")

            # When: log-scale location of the endorsement time, in days.
            tau0 = pm.Normal("tau0", np.log(cfg["tau0_mu_days"]), cfg["tau0_sd"])
            d_griev = pm.Normal("d_griev", cfg["delay_griev_mu"], cfg["delay_griev_sd"])
            d_rival = pm.Normal("d_rival", cfg["delay_rival_mu"], cfg["delay_rival_sd"])
            d_obj = pm.Normal("d_obj", cfg["delay_objection_mu"], cfg["delay_objection_sd"])
            # Blocs also shift timing (partially pooled, non-centred, fixed sd): a bloc that
            # holds out together may be late rather than opposed.
            bloc_delay_z = pm.Normal("bloc_delay_z", 0.0, 1.0, dims="bloc")
            bloc_delay = pm.Deterministic(
                "bloc_delay", cfg["bloc_delay_scale"] * bloc_delay_z, dims="bloc"
            )
            location = pm.Deterministic(
                "location",
                tau0
                + pt.dot(in_bloc, bloc_delay)
                + d_griev * grievance
                + d_rival * rival
                + d_obj * objection,
                dims="ally",
            )
            if self.timing == "lognormal":
                shape = pm.Gamma(
                    "timing_shape", mu=cfg["lognormal_sigma_mu"], sigma=cfg["lognormal_sigma_sd"]
                )
            else:
                shape = pm.Gamma("timing_shape", mu=cfg["weibull_k_mu"], sigma=cfg["weibull_k_sd"])
            pm.Gamma(
                "decision_lag",
                mu=cfg["decision_lag_mu_days"],
                sigma=cfg["decision_lag_sd_days"],
            )
            pm.CustomDist(
                "endorsement",
                p_endorse,
                location,
                shape,
                event,
                reliability,
                censor_day,
                member,
                wave,
                cfg["endorsement_window_days"],
                logp=_endorsement_logp(self.timing),
                random=_endorsement_random(self.timing),
                observed=endorsement_day,
                dims="ally",
            )
        self.model = model
        return model

    def set_inputs(self, inputs: ModelInputs) -> None:
        """Swap in another cut-off's data; the compiled model is reused, not rebuilt."""
        values = self._data_values(inputs)
        self.inputs = inputs
        if self.model is not None:
            with self.model:
                pm.set_data(values)
            with self.campaign_model:
                pm.set_data(self._campaign_values(inputs))

    def compile(self) -> None:
        """Build the model and compile it for the default sampler now, not at the first fit."""
        if self.model is None:
            self.build_model()
        if self.sampler_config["sampler"] == "nutpie":
            self._nutpie_model()

    def _nutpie_model(self):
        """Both blocks compiled for nutpie, with the current cut-off's data."""
        import nutpie

        if self._compiled is None:
            started = time.perf_counter()
            allies = nutpie.compile_pymc_model(self.model, freeze_model=False)
            # The campaign level is compiled once per process (any dataset shares it).
            campaign = campaign_level.compiled_reference_model(
                self.model_config, self.inputs.reference, self.organisations
            )
            self._compiled = (allies, campaign)
            self.compile_seconds = time.perf_counter() - started
            logger.info("compiled the model for nutpie in %.1f s", self.compile_seconds)
        allies, campaign = self._compiled
        return (
            allies.with_data(**self._data_values(self.inputs)),
            campaign.with_data(**self._campaign_values(self.inputs)),
        )

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
        if self.model is None:
            self.build_model()
        if inputs is not None:
            self.set_inputs(inputs)
        sampler = sampler or self.sampler_config["sampler"]
        if sampler not in SAMPLERS:
            raise ValueError(f"sampler {sampler!r} is not known; valid: {', '.join(SAMPLERS)}")
        cfg = {**self.sampler_config, **(sampler_overrides or {})}
        self.fit_sampler_config = {**cfg, "sampler": sampler}
        if sampler == "nutpie":
            allies, campaign = self._nutpie_model()  # compiled on the first fit
            started = time.perf_counter()
            # The per-ally block samples in the background while the campaign level
            # samples and is read out here.
            running = campaign_level.sample(allies, cfg, random_seed, blocking=False)
            campaign_fit = campaign_level.sample(campaign, cfg, random_seed)
            blocks = [campaign_level.read_trace(running.wait(), allies.coords), campaign_fit]
        else:
            started = time.perf_counter()
            blocks = []
            for block in (self.model, self.campaign_model):
                with block:
                    blocks.append(
                        pm.sample(
                            draws=cfg["draws"],
                            tune=cfg["tune"],
                            chains=cfg["chains"],
                            target_accept=cfg["target_accept"],
                            random_seed=random_seed,
                            progressbar=False,
                            compute_convergence_checks=False,
                        )
                    )
        idata = joined(*blocks)
        self.sample_seconds = time.perf_counter() - started
        idata.attrs.update(self._attrs(random_seed))
        self.idata = idata
        return idata

    def _attrs(self, seed: int) -> dict[str, str]:
        return {
            "model_config": json.dumps(self.model_config, sort_keys=True),
            "sampler_config": json.dumps(self.fit_sampler_config),
            "package_version": __version__,
            "config_hash": self.config_hash,
            "random_seed": str(seed),
            "sample_seconds": f"{self.sample_seconds:.4f}",
        }

    @property
    def parameter_names(self) -> list[str]:
        """Names of the sampled parameters (not the deterministics)."""
        if self.model is None:
            self.build_model()
        return [rv.name for block in (self.model, self.campaign_model) for rv in block.free_RVs]

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
        if self.model is None:
            self.build_model()
        with self.model:
            prior = pm.sample_prior_predictive(draws=draws, random_seed=random_seed)
        # The campaign level's priors beside the per-ally ones (its own seed: the blocks
        # are independent a priori as well).
        with self.campaign_model:
            campaign = pm.sample_prior_predictive(draws=draws, random_seed=random_seed + 1)
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
        return write_posterior(self.require_fit(), path)

    @classmethod
    def load(cls, path: Path | str, inputs: ModelInputs) -> ConfirmationModel:
        """Rebuild a fitted model from a saved posterior.

        Raises
        ------
        ConfigMismatchError
            If the file was written by another package version or its config hash does
            not match its config (an edited or foreign file).
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
        if model.config_hash != attrs.get("config_hash"):
            raise ConfigMismatchError(
                f"{path} has config hash {attrs.get('config_hash')!r}, "
                f"its config gives {model.config_hash!r}"
            )
        model.build_model()
        model.idata = idata
        model.sample_seconds = float(attrs.get("sample_seconds", "nan"))
        return model
