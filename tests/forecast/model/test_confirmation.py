"""The model fitted on the synthetic dataset: gate, response to evidence, reproducibility, I/O."""

from __future__ import annotations

import datetime as dt
import itertools
import json

import arviz as az
import numpy as np
import pymc as pm
import pytest

from forecast.data.records import EvidenceItem
from forecast.model import campaign_level, confirmation, sampling
from forecast.model.config import validated
from forecast.model.confirmation import ConfigMismatchError, ConfirmationModel, NotFittedError
from forecast.pipeline.fit import Forecaster, draws_from_idata
from forecast.pipeline.store import POSTERIOR_FILE
from forecast.posterior import predict
from forecast.source import MODEL_ROOMS, source_digest
from tests.conftest import SYNTHETIC_AS_OF, SYNTHETIC_SEED

JUNE = dt.date(2024, 5, 31)


def news(ally: str, kind: str, date: dt.date = SYNTHETIC_AS_OF) -> EvidenceItem:
    return EvidenceItem(ally=ally, kind=kind, date=date, source="test", summary=f"{ally} {kind}")


def p_confirmed(document: dict, key: str = "june") -> float:
    return next(d["p_confirmed"] for d in document["deadlines"] if d["key"] == key)


def numbers(document: dict) -> tuple:
    """What a reader sees, without the run's identity and timings."""
    return document["deadlines"], document["allies"], document["curve"]


@pytest.fixture
def run(synthetic_forecaster, synthetic_dataset, tmp_path):
    """Run the shared forecaster on the shipped evidence plus ``extra``; return the document."""

    runs = itertools.count()

    def run_with(*extra: EvidenceItem, as_of: dt.date = SYNTHETIC_AS_OF, seed=SYNTHETIC_SEED):
        result = synthetic_forecaster.run(
            [*synthetic_dataset.evidence, *extra],
            as_of,
            seed=seed,
            run_id="run_test",
            run_dir=tmp_path / f"run_{next(runs)}",
        )
        return result.document

    return run_with


def test_a_fit_on_the_synthetic_data_passes_the_gate(synthetic_run):
    diagnostics = synthetic_run.diagnostics
    assert diagnostics["passed"], diagnostics["failures"]
    assert diagnostics["divergences"] == 0
    assert synthetic_run.document["diagnostics"]["passed"]


def test_an_endorsement_raises_the_chance_of_confirmation_by_june(synthetic_run, run):
    after = run(news("DD", "endorsement"))
    assert p_confirmed(after) > p_confirmed(synthetic_run.document)


def p_endorse_by(document: dict, code: str, key: str = "june") -> float:
    return next(a["p_endorse_by"][key] for a in document["allies"] if a["code"] == code)


def test_an_objection_lowers_that_ally_s_chance_of_endorsing_by_june(synthetic_run, run):
    # The campaign's own chance moves little: in the reference class smaller members'
    # objections were overcome at the endgame (docs/model.md).
    after = run(news("DD", "objection"))
    assert p_endorse_by(after, "DD") < p_endorse_by(synthetic_run.document, "DD") - 0.01


def test_the_sponsor_withdrawing_the_candidate_ends_the_campaign(run):
    after = run(news("AA", "withdrawal"))
    assert [d["p_confirmed"] for d in after["deadlines"]] == [0.0, 0.0]
    assert after["p_ever_confirmed"] == 0.0
    silent = {a["code"]: a["p_endorse"] for a in after["allies"] if a["code"] in ("DD", "EE")}
    assert silent == {"DD": 0.0, "EE": 0.0}  # no one comes in after the bid is dropped


def test_an_unconfirmed_report_moves_the_forecast_less_than_an_official_endorsement(
    synthetic_run, run
):
    official = run(news("DD", "endorsement"))
    reported = run(
        EvidenceItem(
            ally="DD",
            kind="endorsement",
            date=SYNTHETIC_AS_OF,
            source="test",
            summary="DD endorsement, per anonymous diplomats",
            reliability=0.5,
        )
    )
    # On the ally's own chance: the campaign's moves little while others hold out.
    before = p_endorse_by(synthetic_run.document, "DD")
    assert before + 0.01 < p_endorse_by(reported, "DD") < p_endorse_by(official, "DD") - 0.01
    status = {a["code"]: a["status"] for a in reported["allies"]}
    assert status["DD"] == "undecided"  # unconfirmed support does not make it endorsed


def test_time_passing_without_news_lowers_the_chance_by_a_fixed_deadline(synthetic_run, run):
    later = run(as_of=dt.date(2024, 4, 15))
    assert p_confirmed(later) < p_confirmed(synthetic_run.document)


def test_the_same_seed_gives_the_same_numbers(synthetic_run, run):
    assert numbers(run()) == numbers(synthetic_run.document)


# The campaign level's sampled quantities (forecast/model/campaign_level.py).
CAMPAIGN_DRAWS = ("p_success", "endgame_location", "endgame_shape", "endgame_focal")


def test_a_rerun_on_evidence_the_campaign_level_does_not_read_reuses_its_fit_exactly(
    synthetic_forecaster, synthetic_dataset, tmp_path
):
    forecaster, base, seed = synthetic_forecaster, synthetic_dataset.evidence, SYNTHETIC_SEED + 7

    def fit(*extra: EvidenceItem, name: str):
        result = forecaster.run(
            [*base, *extra], SYNTHETIC_AS_OF, seed=seed, run_id=name, run_dir=tmp_path / name
        )
        post = forecaster.model.idata.posterior
        return result, {v: post[v].values.copy() for v in CAMPAIGN_DRAWS}

    fit(name="before")
    # CC's reported support made official: CC was no holdout before and is none after.
    official = news("CC", "endorsement")
    reused, reused_draws = fit(official, name="reused")
    assert reused.diagnostics["campaign_level_reused"]
    forecaster.model.nutpie.campaign_fits = sampling.CampaignFits()  # forget the last fit
    fresh, fresh_draws = fit(official, name="fresh")
    assert not fresh.diagnostics["campaign_level_reused"]
    assert all(np.array_equal(reused_draws[v], fresh_draws[v]) for v in CAMPAIGN_DRAWS)
    assert numbers(reused.document) == numbers(fresh.document)
    # Gated exactly as a fresh fit: the same diagnostics, bar timings and the flag.
    varying = {"sample_seconds", "campaign_level_reused"}
    assert {k: v for k, v in reused.diagnostics.items() if k not in varying} == {
        k: v for k, v in fresh.diagnostics.items() if k not in varying
    }
    # DD (an eastern member with a grievance) is a holdout: its endorsement is new data.
    holdout, _ = fit(news("DD", "endorsement"), name="holdout")
    assert not holdout.diagnostics["campaign_level_reused"]


def test_another_seed_gives_other_draws_but_a_similar_forecast(
    synthetic_run, synthetic_forecaster, synthetic_dataset
):
    inputs = synthetic_forecaster.inputs(synthetic_dataset.evidence, SYNTHETIC_AS_OF)
    model = synthetic_forecaster.fit(inputs, seed=SYNTHETIC_SEED + 1)
    draws = draws_from_idata(model.require_fit(), inputs, model.timing)
    p_june = predict.confirmed_by(draws, draws.day(JUNE))
    published = p_confirmed(synthetic_run.document)
    assert p_june.mean() != published
    assert p_june.mean() == pytest.approx(published, rel=0.05)


def test_save_then_load_gives_the_same_forecast(
    synthetic_run, synthetic_forecaster, synthetic_dataset
):
    inputs = synthetic_forecaster.inputs(synthetic_dataset.evidence, SYNTHETIC_AS_OF)
    loaded = ConfirmationModel.load(synthetic_run.run_dir / POSTERIOR_FILE, inputs)
    draws = draws_from_idata(loaded.require_fit(), inputs, loaded.timing)
    for deadline in synthetic_run.document["deadlines"]:
        day = draws.day(dt.date.fromisoformat(deadline["date"]))
        assert predict.confirmed_by(draws, day).mean() == deadline["p_confirmed"]
    assert loaded.config_hash == synthetic_run.inputs["config_hash"]


def tampered(source, target, **attrs) -> None:
    idata = az.from_netcdf(str(source), engine="h5netcdf")
    idata.attrs.update(attrs)
    idata.to_netcdf(str(target), engine="h5netcdf")


def test_load_refuses_a_file_whose_config_hash_does_not_match(
    synthetic_run, synthetic_forecaster, synthetic_dataset, tmp_path
):
    path = tmp_path / "posterior.nc"
    tampered(synthetic_run.run_dir / POSTERIOR_FILE, path, config_hash="0" * 16)
    inputs = synthetic_forecaster.inputs(synthetic_dataset.evidence, SYNTHETIC_AS_OF)
    with pytest.raises(ConfigMismatchError, match="config hash"):
        ConfirmationModel.load(path, inputs)


def test_a_posterior_made_by_other_model_code_is_read_and_flagged(
    synthetic_run, synthetic_forecaster, synthetic_dataset, monkeypatch, caplog
):
    """A saved posterior names the model code that fitted it: under changed code it is
    read as it is, flagged and logged, never taken for this code's result."""
    inputs = synthetic_forecaster.inputs(synthetic_dataset.evidence, SYNTHETIC_AS_OF)
    path = synthetic_run.run_dir / POSTERIOR_FILE
    assert ConfirmationModel.load(path, inputs).made_by_other_code is None
    made_by = source_digest()
    monkeypatch.setattr(confirmation, "source_digest", lambda rooms=MODEL_ROOMS: "0" * 16)
    loaded = ConfirmationModel.load(path, inputs)
    assert loaded.made_by_other_code == made_by
    assert "fitted by other model code" in caplog.text


def test_load_refuses_a_file_whose_config_was_edited(
    synthetic_run, synthetic_forecaster, synthetic_dataset, tmp_path
):
    path = tmp_path / "posterior.nc"
    config = synthetic_run.inputs["model_config"]
    tampered(
        synthetic_run.run_dir / POSTERIOR_FILE,
        path,
        model_config=json.dumps({**config, "intercept_mu": 0.0}, sort_keys=True),
    )
    inputs = synthetic_forecaster.inputs(synthetic_dataset.evidence, SYNTHETIC_AS_OF)
    with pytest.raises(ConfigMismatchError):
        ConfirmationModel.load(path, inputs)


def test_load_refuses_a_file_from_another_package_version(
    synthetic_run, synthetic_forecaster, synthetic_dataset, tmp_path
):
    path = tmp_path / "posterior.nc"
    tampered(synthetic_run.run_dir / POSTERIOR_FILE, path, package_version="0.0.0")
    inputs = synthetic_forecaster.inputs(synthetic_dataset.evidence, SYNTHETIC_AS_OF)
    with pytest.raises(ConfigMismatchError, match="version"):
        ConfirmationModel.load(path, inputs)


def test_an_unfitted_model_says_to_call_fit_first(synthetic_forecaster, synthetic_dataset):
    inputs = synthetic_forecaster.inputs(synthetic_dataset.evidence, SYNTHETIC_AS_OF)
    with pytest.raises(NotFittedError, match="call fit"):
        ConfirmationModel(inputs).log_likelihood()


def test_an_unknown_timing_form_is_refused_listing_the_valid_ones(
    synthetic_forecaster, synthetic_dataset
):
    inputs = synthetic_forecaster.inputs(synthetic_dataset.evidence, SYNTHETIC_AS_OF)
    with pytest.raises(ValueError, match="lognormal, weibull"):
        ConfirmationModel(inputs, {"timing": "gamma"})


def test_log_likelihood_has_one_term_per_member_ally(synthetic_forecaster, synthetic_dataset):
    inputs = synthetic_forecaster.inputs(synthetic_dataset.evidence, SYNTHETIC_AS_OF)
    model = synthetic_forecaster.fit(inputs, seed=SYNTHETIC_SEED)
    log_lik = model.log_likelihood().log_likelihood["endorsement"]
    members = [c for c in inputs.frame.index if inputs.frame.loc[c, "member"] > 0]
    assert list(log_lik["ally"].values) == members  # GG, not a member, is left out
    assert np.isfinite(log_lik.values).all()


@pytest.mark.slow
def test_nutpie_and_pymc_agree_on_the_chance_of_confirmation(
    synthetic_run, synthetic_forecaster, synthetic_dataset
):
    inputs = synthetic_forecaster.inputs(synthetic_dataset.evidence, SYNTHETIC_AS_OF)
    model = synthetic_forecaster.fit(inputs, seed=SYNTHETIC_SEED, sampler="pymc")
    draws = draws_from_idata(model.require_fit(), inputs, model.timing)
    for deadline in synthetic_run.document["deadlines"]:
        day = draws.day(dt.date.fromisoformat(deadline["date"]))
        assert predict.confirmed_by(draws, day).mean() == pytest.approx(
            deadline["p_confirmed"], rel=0.1
        )
    ever = predict.endorse_ever(draws).mean(axis=0)
    published = [a["p_endorse"] for a in synthetic_run.document["allies"]]
    assert ever == pytest.approx(published, rel=0.1)


def test_prior_draws_cover_the_per_ally_block_and_the_campaign_level(
    synthetic_forecaster, synthetic_dataset
):
    inputs = synthetic_forecaster.inputs(synthetic_dataset.evidence, SYNTHETIC_AS_OF)
    prior = ConfirmationModel(inputs).sample_prior_predictive(50, random_seed=1)
    names = set(prior.prior.data_vars)
    assert {"intercept", "p_endorse", "timing_shape"} <= names
    assert {"success_intercept", "org_effect", "p_success", "endgame_location"} <= names
    assert prior.prior.sizes["draw"] == 50


def test_the_pymc_models_are_built_and_given_data_only_when_read(synthetic_dataset, monkeypatch):
    # nutpie's fits compile their own copies and give them their data: a worker's start
    # builds no PyMC model of the campaign level, and a rerun sets no PyMC model's data
    # (pm.set_data compiles with PyTensor's C backend, seconds at its first use).
    built, set_data = [], []
    reference_model, pm_set_data = campaign_level.reference_model, pm.set_data
    monkeypatch.setattr(
        campaign_level, "reference_model", lambda *a: built.append(1) or reference_model(*a)
    )
    monkeypatch.setattr(pm, "set_data", lambda *a, **k: set_data.append(1) or pm_set_data(*a, **k))
    forecaster = Forecaster(synthetic_dataset)
    opening = forecaster.inputs(synthetic_dataset.evidence, SYNTHETIC_AS_OF)
    later = forecaster.inputs(synthetic_dataset.evidence, dt.date(2024, 4, 15))
    model = ConfirmationModel(opening)
    model.build_model()
    model.set_inputs(later)
    assert built == []
    names = model.parameter_names  # the gate's, kept by the compiled campaign level
    assert set_data == []

    # Read, each holds the current cut-off's data.
    assert model.campaign_model is model.campaign_model
    elapsed = model.campaign_model["campaign_elapsed"].get_value()
    assert elapsed == later.campaign.elapsed != opening.campaign.elapsed
    censor = model.model["censor_day"].get_value()
    assert np.array_equal(censor, later.frame["censor_day"].to_numpy(float))
    assert not np.array_equal(censor, opening.frame["censor_day"].to_numpy(float))
    assert len(set_data) == 2
    blocks = (model.model, model.campaign_model)
    assert names == [rv.name for block in blocks for rv in block.free_RVs]
    assert "success_intercept" in names


@pytest.mark.parametrize(
    ("model_config", "sampler_config", "named"),
    [
        ({"intercept_muu": 3.0}, None, "unknown model_config keys ['intercept_muu']"),
        (None, {"draw": 2000}, "unknown sampler_config keys ['draw']"),
    ],
)
def test_a_misspelt_config_key_is_refused_naming_the_valid_ones(
    model_config, sampler_config, named
):
    """A typo would otherwise be ignored and recorded as used (the worker starting with
    FORECAST_SAMPLER_CONFIG='{"draw": 2000}' sampled 700 draws and said 2000)."""
    with pytest.raises(ValueError) as raised:
        validated(model_config, sampler_config)
    assert named in str(raised.value)
    assert ("draws" if sampler_config else "intercept_mu") in str(raised.value)


def test_a_kept_campaign_fit_is_reused_only_for_the_same_model_data_settings_and_seed(
    monkeypatch,
):
    """``CampaignFits`` against a stand-in sampler: a ``with_data`` copy with the same data
    reuses the fit; other data, settings, a seed or another compiled model (same data)
    sample again."""
    import dataclasses
    from types import SimpleNamespace

    sampled = []

    def stand_in(compiled, settings, seed):
        sampled.append((compiled, seed))
        return SimpleNamespace(number=len(sampled))

    monkeypatch.setattr(sampling, "sample", stand_in)

    @dataclasses.dataclass(frozen=True)
    class Compiled:
        shared_data: dict
        compiled_logp_func: object

    model = Compiled({"x": np.array([1.0, 2.0])}, object())
    settings = {"draws": 10, "tune": 10}
    fits = sampling.CampaignFits()
    first = fits.fit(model, settings, 1)
    copy = dataclasses.replace(model, shared_data={"x": np.array([1.0, 2.0])})
    assert fits.fit(copy, settings, 1) is first and fits.reused
    for other, other_settings, seed in (
        (dataclasses.replace(model, shared_data={"x": np.array([1.0, 3.0])}), settings, 1),
        (model, {**settings, "draws": 20}, 1),
        (model, settings, 2),
        (Compiled({"x": np.array([1.0, 2.0])}, object()), settings, 1),
    ):
        fits.fit(model, settings, 1)  # the first fit's key kept again
        assert fits.fit(other, other_settings, seed).number == len(sampled)
        assert not fits.reused and sampled[-1] == (other, seed)
