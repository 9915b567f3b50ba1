"""Fit, gate, summarise and store one forecast run; the compiled model is kept per process."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import arviz as az
import msgspec
import numpy as np

from forecast import __version__
from forecast.data.dataset import Dataset
from forecast.data.inputs import (
    ModelInputs,
    holding_out,
    holdout_reasons,
    setup_frame,
    spending_scale,
)
from forecast.data.records import EvidenceItem
from forecast.model import campaign_level
from forecast.model.config import merged
from forecast.model.confirmation import ConfirmationModel
from forecast.model.gate import GateConfig, check, diagnose
from forecast.model.sampling import write_posterior
from forecast.pipeline.store import (
    DIAGNOSTICS_FILE,
    DOCUMENT_FILE,
    INPUTS_FILE,
    POSTERIOR_FILE,
    TIMINGS_FILE,
    new_run_id,
    write_json,
)
from forecast.posterior import predict
from forecast.posterior.document import build_document
from forecast.posterior.draws import DRAWS_FILE, PosteriorDraws
from forecast.posterior.schema import checked
from forecast.seed import DEFAULT_SEED

logger = logging.getLogger(__name__)


# Sampler settings of the one refit a fit that missed the gate gets: smaller steps for
# divergences, longer adaptation and chains for R-hat and ESS. Each is a floor: settings
# already above it (a configured longer chain) are kept.
RETRY_SAMPLER_OVERRIDES: dict[str, Any] = {"target_accept": 0.99, "tune": 300, "draws": 1000}


def retry_overrides(sampler_config: dict[str, Any]) -> dict[str, Any]:
    """The refit's settings: ``RETRY_SAMPLER_OVERRIDES``, never below the first fit's."""
    return {k: max(v, sampler_config.get(k, v)) for k, v in RETRY_SAMPLER_OVERRIDES.items()}


class RunResult(msgspec.Struct, kw_only=True):
    """What one run produced (also written to its folder)."""

    run_id: str
    run_dir: Path
    document: dict[str, Any]
    diagnostics: dict[str, Any]
    timings: dict[str, float]
    inputs: dict[str, Any]
    # The posterior (ArviZ InferenceData) while its netCDF archive is still to be written.
    pending_posterior: Any = None

    def archive(self) -> Path:
        """Write the posterior's netCDF archive if ``run(archive=False)`` deferred it."""
        path = self.run_dir / POSTERIOR_FILE
        if self.pending_posterior is not None:
            write_posterior(self.pending_posterior, path)
            self.pending_posterior = None
        return path


def draws_from_idata(
    idata: az.InferenceData,
    inputs: ModelInputs,
    timing: str,
    model_config: Mapping[str, Any] | None = None,
) -> PosteriorDraws:
    """Stack chains and draws into the numpy bundle the derived quantities use
    (``model_config`` gives the focal dates' window; the defaults if None)."""
    post = idata.posterior
    n_ally = len(inputs.frame)

    def stacked(name: str) -> np.ndarray:
        values = post[name].values
        return values.reshape(-1, n_ally) if values.ndim == 3 else values.reshape(-1)

    frame = inputs.frame
    return PosteriorDraws(
        timing=timing,
        codes=tuple(frame.index),
        p_endorse=stacked("p_endorse"),
        location=stacked("location"),
        shape=stacked("timing_shape"),
        decision_lag=stacked("decision_lag"),
        member=frame["member"].to_numpy(float),
        status=tuple(frame["status"]),
        event=frame["event"].to_numpy(float),
        event_day=frame["event_day"].to_numpy(float),
        reliability=frame["reliability"].to_numpy(float),
        censor_day=float(frame["censor_day"].iloc[0]),
        campaign_start=inputs.campaign_start,
        as_of=inputs.as_of,
        p_success=stacked("p_success"),
        endgame_location=stacked("endgame_location"),
        endgame_shape=stacked("endgame_shape"),
        endgame_focal=stacked("endgame_focal"),
        endgame_base=stacked("endgame_base"),
        endgame_coef=post["endgame_coef"].values.reshape(-1, post["endgame_coef"].shape[-1]),
        focal_base=stacked("focal_base"),
        focal_holdouts=stacked("focal_holdouts"),
        endgame_clock=stacked("endgame_clock"),
        holdout=holding_out(frame).to_numpy(float),
        reasons=tuple(holdout_reasons(frame)),
        rival=inputs.campaign.rival,
        calendar_days=inputs.campaign.calendar_days,
        focal_window=campaign_level.focal_window(merged(model_config)),
        emerged_offset=inputs.campaign.emerged_offset,
        withdrawn=inputs.campaign.withdrawn,
        chains=int(post.sizes["chain"]),
    )


class GatedFit(NamedTuple):
    """The last fit of a run (after a refit, if the first missed the gate)."""

    model: ConfirmationModel
    idata: az.InferenceData
    draws: PosteriorDraws
    diagnostics: dict[str, Any]
    sample_seconds: float  # every attempt's
    fitted_at: float  # perf_counter when the last attempt finished sampling


class Forecast(NamedTuple):
    """A forecast made and not stored: the gated fit, its document and the timings so far."""

    inputs: ModelInputs
    fit: GatedFit
    document: dict[str, Any]
    timings: dict[str, float]  # up to the document; storing adds its own
    started: float  # perf_counter when the forecast began
    summarised: float  # perf_counter when its document was made


class Forecaster:
    """Owns the compiled model for one dataset and turns evidence into published forecasts.

    Parameters
    ----------
    dataset
        The validated shipped data.
    model_config, sampler_config
        Overrides of ``ConfirmationModel``'s defaults.
    gate
        Diagnostics thresholds (defaults: R-hat <= 1.01, ESS >= 400, no divergences).
    """

    # The model a forecaster builds and samples; everything after sampling (diagnostics,
    # gate, document, storage) is the same for a subclass that builds another.
    model_class: ClassVar[type[ConfirmationModel]] = ConfirmationModel

    def __init__(
        self,
        dataset: Dataset,
        *,
        model_config: dict[str, Any] | None = None,
        sampler_config: dict[str, Any] | None = None,
        gate: GateConfig | None = None,
    ):
        self.dataset = dataset
        self.model_config = model_config
        self.sampler_config = sampler_config
        self.gate = gate or GateConfig()
        self.scale = spending_scale(dataset)
        self.model: ConfirmationModel | None = None

    def compile(self) -> float:
        """Build and compile the model ahead of the first run; returns the seconds it took.

        A worker calls this at start-up so that the first evidence it sees is answered at
        warm speed (about 10 s when the compile cache holds the model, 1-2 minutes the first
        time on a machine: forecast/model/compiled.py).
        """
        started = time.perf_counter()
        self._model(self.inputs(self.dataset.evidence, self.dataset.question.opened)).compile()
        return time.perf_counter() - started

    def _model(self, inputs: ModelInputs) -> ConfirmationModel:
        """The model, built on the first inputs it sees (they fix allies and blocs)."""
        if self.model is None:
            self.model = self.model_class(inputs, self.model_config, self.sampler_config)
            self.model.build_model()
        return self.model

    def inputs(self, evidence: Sequence[EvidenceItem], as_of: dt.date) -> ModelInputs:
        return setup_frame(self.dataset, evidence, as_of, self.scale)

    def fit(
        self,
        inputs: ModelInputs,
        *,
        seed: int,
        sampler: str | None = None,
        sampler_overrides: dict[str, Any] | None = None,
    ) -> ConfirmationModel:
        """Sample the posterior at ``inputs``, building and compiling the model only once."""
        model = self._model(inputs)
        model.fit(inputs, random_seed=seed, sampler=sampler, sampler_overrides=sampler_overrides)
        return model

    def forecast(
        self,
        evidence: Sequence[EvidenceItem],
        as_of: dt.date,
        *,
        seed: int = DEFAULT_SEED,
        run_id: str | None = None,
        sampler: str | None = None,
    ) -> dict[str, Any]:
        """The forecast document at ``as_of``: fit on the evidence dated up to it, gate
        and summarise, writing no file (``run`` is this and storing; only the compile
        caches are written, by a first fit on a machine that lacks them).

        The document is the one ``run`` stores for the same evidence, cut-off and seed,
        whole and matching the schema the API serves: ``run_id`` names it (default a new
        id, ``store.new_run_id``) and ``published_at`` is when it was made.

        Parameters
        ----------
        evidence
            Evidence items; those dated after ``as_of`` are left out.
        as_of
            The cut-off.
        seed
            Seed of the sampler: the same seed and evidence give the same numbers.
        run_id
            The document's ``run_id``.
        sampler
            ``"nutpie"`` (default) or ``"pymc"``.

        Returns
        -------
        dict
            The forecast document, JSON-ready.

        Raises
        ------
        GateFailed
            The fit (and its one refit) missed a threshold: there is no document.
        """
        made = self._forecast(
            evidence, as_of, seed=seed, run_id=run_id or new_run_id(), sampler=sampler
        )
        check(made.fit.diagnostics)
        return made.document

    def _forecast(
        self,
        evidence: Sequence[EvidenceItem],
        as_of: dt.date,
        *,
        seed: int,
        run_id: str,
        sampler: str | None,
    ) -> Forecast:
        """Fit, gate and summarise: the document whether or not the fit passed."""
        started = time.perf_counter()
        inputs = self.inputs(evidence, as_of)
        compiled_before = self.model is not None and self.model.nutpie.compiled
        fit = self._fit_gated(inputs, seed=seed, sampler=sampler, run_id=run_id)
        diagnosed = time.perf_counter()
        document = self._document(fit, inputs, run_id)
        summarised = time.perf_counter()
        model = fit.model
        compiled = not compiled_before and model.fit_sampler_config["sampler"] == "nutpie"
        timings = {
            "sample_seconds": round(fit.sample_seconds, 4),  # every attempt's
            "fit_seconds": round(fit.fitted_at - started, 4),
            "compile_seconds": round((model.nutpie.compile_seconds or 0.0) if compiled else 0.0, 4),
            "diagnose_seconds": round(diagnosed - fit.fitted_at, 4),
            "summarise_seconds": round(summarised - diagnosed, 4),
        }
        return Forecast(inputs, fit, document, timings, started, summarised)

    def run(
        self,
        evidence: Sequence[EvidenceItem],
        as_of: dt.date,
        *,
        seed: int,
        run_id: str,
        run_dir: Path | str,
        sampler: str | None = None,
        archive: bool = True,
    ) -> RunResult:
        """``forecast`` at ``as_of`` on the evidence dated up to it, and store the run.

        ``archive=False`` leaves the posterior's netCDF (the audit copy, about a quarter
        of a second to write) to ``RunResult.archive()``, so that a caller can publish
        first; the draws the forecast is served from are always written here. A fit that
        fails the gate is archived here either way.

        Returns
        -------
        RunResult
            Only for a fit that passed the gate.

        Raises
        ------
        GateFailed
            The fit missed a threshold; its artifacts are written, nothing is published.
        """
        run_dir = Path(run_dir)
        made = self._forecast(evidence, as_of, seed=seed, run_id=run_id, sampler=sampler)
        fit, document, model = made.fit, made.document, made.fit.model
        record = self._record(model, made.inputs, run_id=run_id, seed=seed)
        fit.draws.save(run_dir / DRAWS_FILE)
        deferred = not archive and fit.diagnostics["passed"]
        if not deferred:
            model.save(run_dir / POSTERIOR_FILE)
        saved = time.perf_counter()
        timings = {
            **made.timings,
            "save_seconds": round(saved - made.summarised, 4),
            "total_seconds": round(saved - made.started, 4),
        }
        write_json(run_dir / INPUTS_FILE, record)
        write_json(run_dir / DIAGNOSTICS_FILE, fit.diagnostics)
        write_json(run_dir / TIMINGS_FILE, timings)
        check(fit.diagnostics)
        write_json(run_dir / DOCUMENT_FILE, document)
        logger.info(
            "run %s at %s: passed, %.2f s (sampling %.2f s)",
            run_id,
            as_of,
            timings["total_seconds"],
            timings["sample_seconds"],
        )
        return RunResult(
            run_id=run_id,
            run_dir=run_dir,
            document=document,
            diagnostics=fit.diagnostics,
            timings=timings,
            inputs=record,
            pending_posterior=fit.idata if deferred else None,
        )

    def _record(
        self, model: ConfirmationModel, inputs: ModelInputs, *, run_id: str, seed: int
    ) -> dict[str, Any]:
        """The run's inputs as stored (``inputs.json``): enough to refit it."""
        return {
            "run_id": run_id,
            "as_of": inputs.as_of.isoformat(),
            "seed": seed,
            "evidence_ids": list(inputs.evidence_ids),
            "model_config": model.model_config,
            # What the published fit used (a refit's settings, when there was one).
            "sampler_config": model.fit_sampler_config,
            "gate": msgspec.structs.asdict(self.gate),
            "config_hash": model.config_hash,
            "package_version": __version__,
        }

    def _fit_gated(
        self, inputs: ModelInputs, *, seed: int, sampler: str | None, run_id: str
    ) -> GatedFit:
        """Fit and diagnose, refitting once if the gate is missed.

        The default chains are short (they make a rerun fast and pass the gate in nearly
        every fit); a fit that misses the gate is refitted once with smaller steps, longer
        adaptation and longer chains (same seed). The caller publishes only a fit whose
        diagnostics passed.
        """
        overrides, sampled, missed = None, 0.0, None
        for attempt in (1, 2):
            model = self.fit(inputs, seed=seed, sampler=sampler, sampler_overrides=overrides)
            fitted_at = time.perf_counter()
            sampled += model.sample_seconds
            idata = model.require_fit()
            draws = draws_from_idata(idata, inputs, model.timing, model.model_config)
            diagnostics = diagnose(
                idata,
                self._derived(draws),
                sampler=model.fit_sampler_config["sampler"],
                sample_seconds=model.sample_seconds,
                config=self.gate,
                parameters=model.parameter_names,
            )
            diagnostics["attempts"] = attempt
            diagnostics["campaign_level_reused"] = model.campaign_reused
            diagnostics["reference_campaigns"] = len(inputs.reference)
            if missed is not None:
                diagnostics["first_attempt_failures"] = missed
            if diagnostics["passed"] or attempt == 2:
                break
            missed = diagnostics["failures"]
            overrides = retry_overrides(model.sampler_config)
            logger.warning(
                "run %s: the fit missed the gate (%s); refitting",
                run_id,
                "; ".join(diagnostics["failures"]),
            )
        return GatedFit(model, idata, draws, diagnostics, sampled, fitted_at)

    def _document(self, fit: GatedFit, inputs: ModelInputs, run_id: str) -> dict[str, Any]:
        """The forecast document of a gated fit, with the run's metadata."""
        question = self.dataset.question
        document = build_document(
            fit.draws,
            question=question.question,
            candidate=question.candidate,
            deadlines=[(d.key, d.label, d.last_day) for d in question.deadlines],
            names={a.code: a.name for a in self.dataset.allies},
            meta={
                "run_id": run_id,
                # To the microsecond: the service's newest forecast at a cut-off is the
                # latest published, and two runs can publish within one second.
                "published_at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
                "evidence_count": len(inputs.evidence_ids),
                "diagnostics": _public_diagnostics(fit.diagnostics),
            },
        )
        checked(document)  # every published document matches the schema the API describes
        return document

    def _derived(self, draws: PosteriorDraws) -> dict[str, np.ndarray]:
        """Reported quantities per draw, shaped (chain, draw[, ally]) for the gate."""
        chains = draws.chains
        out = {
            f"p_confirmed_{d.key}": predict.confirmed_by(draws, draws.day(d.last_day))
            for d in self.dataset.question.deadlines
        }
        out["p_confirmed_ever"] = predict.confirmed_ever(draws)
        out["p_endorse_ever"] = predict.endorse_ever(draws)
        for d in self.dataset.question.deadlines:
            day = np.full(draws.n_draws, draws.day(d.last_day))
            out[f"p_endorse_by_{d.key}"] = predict.endorsed_by(draws, day)
        return {k: v.reshape(chains, -1, *v.shape[1:]) for k, v in out.items()}


def _public_diagnostics(diagnostics: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "passed",
        "r_hat_max",
        "ess_bulk_min",
        "ess_tail_min",
        "divergences",
        "attempts",
        "sampler",
        "sample_seconds",
        "chains",
        "draws",
        "reference_campaigns",
    )
    return {k: diagnostics[k] for k in keys}
