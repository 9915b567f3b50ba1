# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Is the forecast sound? Diagnostics of a stored run
#
# This notebook reads the question's latest **published** run
# (`forecast.pipeline.store.latest_published()`, in `var/runs/` or in the folder named by
# the environment variable `FORECAST_RUNS_DIR`, which may hold other questions' runs too)
# and checks it the way a reviewer would: did the sampler converge, does the model
# reproduce what was observed, what did the data teach the priors, what does the
# forecast say per ally and over time, can the model recover known parameters, and is
# the chosen timing form the better one. If no run has been published yet it fits one,
# exactly as the CLI and the service do: a `Forecaster` on the shipped data at the
# question's opening date, with the shipped evidence.
#
# Everything here calls the package's public functions (`forecast.pipeline.fit`,
# `forecast.model.gate`, `forecast.posterior.predict`, `forecast.checks.stored`); the
# notebook only plots.
#
# **Stored checks.** The expensive checks (the per-ally and the campaign-level parameter
# recoveries, the campaign leave-one-out backtest, the timing-form comparison) take
# minutes each, so they are computed once by
#
#     python -m forecast checks [--data DIR] [--only NAME,...] [--quick]
#
# and stored as JSON in `var/checks/` (or the folder named by `FORECAST_CHECKS_DIR`), one
# file per check, with when it was made, the package version, a hash of the model config
# and the model's code, a hash of the checks' code, a hash of the data files it read and
# its settings. Each section below prints which result it shows: "stored by
# `python -m forecast checks`, made on ..." or, when nothing is stored or the stored
# result is stale (another version, model config or code, check code, data or settings;
# the timing forms also another cut-off or evidence than this run's),
# "computed now" with the reason. Rerun the command after changing the model or the data.
#
# **Quick mode.** With `FORECAST_NOTEBOOK_QUICK=1` every fit uses small sampler settings
# (2 chains of 300 draws after 300 tuning steps) so that the notebook runs in a couple of
# minutes (the test suite does this). 600 draws cannot reach the gate's ESS >= 400, so a
# fit made in quick mode is gated with **relaxed thresholds** (R-hat <= 1.05, bulk and
# tail ESS >= 100; still no divergences) and is written to a scratch folder, never to
# the runs folder: a quick fit can never be published. Without a current stored result,
# quick mode computes the campaign checks with small settings and leaves the per-ally
# recovery and the timing-form comparison (each a compilation of its own) to the test
# suite, which runs both; it shows stored results made with full or quick settings. Judge
# a real forecast only from a full run and results stored with full settings.

# %%
import datetime as dt
import io
import os
import tempfile
import warnings
from pathlib import Path

import arviz as az
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from IPython.display import Image, display

from forecast.checks import stored as stored_checks
from forecast.checks.campaign_backtest import QUESTIONS
from forecast.checks.campaign_recovery import predictive_summary
from forecast.data.dataset import load_dataset
from forecast.data.inputs import setup_frame
from forecast.model.confirmation import ConfirmationModel
from forecast.model.gate import GateConfig, GateFailed
from forecast.pipeline.fit import Forecaster
from forecast.pipeline.store import (
    DEFAULT_RUNS_DIR,
    DIAGNOSTICS_FILE,
    DOCUMENT_FILE,
    INPUTS_FILE,
    POSTERIOR_FILE,
    TIMINGS_FILE,
    latest_published,
    load_run,
    new_run_id,
    read_document,
    read_json,
)
from forecast.posterior import endgame, predict
from forecast.posterior.draws import DRAWS_FILE, PosteriorDraws
from forecast.seed import DEFAULT_SEED

# Agg draws into memory only; `show` turns each figure into a PNG output.
plt.switch_backend("Agg")
az.style.use("arviz-whitegrid")

QUICK = os.environ.get("FORECAST_NOTEBOOK_QUICK", "").lower() in {"1", "true", "yes"}
RUNS_DIR = Path(os.environ.get("FORECAST_RUNS_DIR") or DEFAULT_RUNS_DIR)
CHECKS_DIR = stored_checks.checks_dir()  # FORECAST_CHECKS_DIR, else var/checks/
DATA_DIR = os.environ.get("FORECAST_DATA_DIR")  # None: the shipped data/
INTERVAL_TAILS = ((1 - predict.INTERVAL_PROB) / 2, 1 - (1 - predict.INTERVAL_PROB) / 2)
if QUICK:
    SAMPLER_CONFIG = {"chains": 2, "tune": 300, "draws": 300}
    GATE = GateConfig(r_hat_max=1.05, ess_bulk_min=100.0, ess_tail_min=100.0)
    PRIOR_DRAWS = 500
else:
    SAMPLER_CONFIG = None  # the model's defaults, as the CLI and the service use them
    GATE = GateConfig()
    PRIOR_DRAWS = 2000

# The model's main coefficients; `SCALARS` are those without a bloc dimension.
SCALARS = [
    "intercept",
    "b_spend",
    "b_griev",
    "b_rival",
    "b_obj",
    "tau0",
    "d_griev",
    "d_rival",
    "d_obj",
    "timing_shape",
    "decision_lag",
]
COEFFICIENTS = [*SCALARS[:1], "bloc_effect", *SCALARS[1:6], "bloc_delay", *SCALARS[6:]]
# The campaign level (forecast/model/campaign_level.py): its sampled parameters.
CAMPAIGN_PARAMETERS = [
    "success_intercept",
    "success_coef",
    "endgame_mu",
    "endgame_shape_typical",
    "endgame_coef",
    "focal_intercept",
    "focal_holdouts",
    "org_effect",
    "org_success",
    "org_focal",
]


def show(fig: plt.Figure) -> None:
    """Output a figure as a PNG and close it (Agg draws nothing on screen by itself)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    display(Image(buffer.getvalue()))


print(f"quick mode: {QUICK}; runs folder: {RUNS_DIR}; stored checks: {CHECKS_DIR}")

# %% [markdown]
# ## The run
#
# The latest published run is used as it is. Without one, a run is fitted and stored
# (in quick mode, in a scratch folder). A fit that misses the gate raises `GateFailed`
# after writing its artifacts; it is not published, but it is examined below all the
# same, since this notebook is where one finds out why.

# %%
dataset = load_dataset(DATA_DIR)  # the question directory
# The latest forecast of this question (the runs folder may hold other questions' runs).
run_dir = latest_published(RUNS_DIR, archived=True, question=dataset.question.question)
if run_dir is None:
    run_id = new_run_id()
    target = Path(tempfile.mkdtemp(prefix="forecast-notebook-")) if QUICK else RUNS_DIR
    run_dir = target / run_id
    print(f"no published run in {RUNS_DIR}: fitting {run_id} into {target}")
    forecaster = Forecaster(dataset, sampler_config=SAMPLER_CONFIG, gate=GATE)
    try:
        forecaster.run(
            dataset.evidence,
            dataset.question.opened,
            seed=DEFAULT_SEED,
            run_id=run_id,
            run_dir=run_dir,
        )
    except GateFailed as failed:
        print(f"the fit was not published: {failed}")
print(f"run folder: {run_dir}")

# %%
record = read_json(run_dir / INPUTS_FILE)
diagnostics = read_json(run_dir / DIAGNOSTICS_FILE)
timings = read_json(run_dir / TIMINGS_FILE)
document = read_document(run_dir) if (run_dir / DOCUMENT_FILE).exists() else None
as_of = dt.date.fromisoformat(record["as_of"])

# A run stores its own evidence (posted items included); runs stored before that are
# rebuilt from the shipped items, and any id found in neither is named.
stored = load_run(run_dir.name, run_dir.parent, shipped=dataset.evidence)
evidence = list(stored.evidence)
if stored.missing_evidence:
    warnings.warn(
        f"{len(stored.missing_evidence)} evidence items of this run were not found "
        f"({', '.join(stored.missing_evidence)}); the predictive checks and the LOO refits "
        "use the others",
        stacklevel=1,
    )
inputs = setup_frame(dataset, evidence, as_of)
model = ConfirmationModel.load(run_dir / POSTERIOR_FILE, inputs)
if model.made_by_other_code:
    print(
        f"This run was fitted by other model code ({model.made_by_other_code}): its draws are "
        "shown as they are; the checks below that refit use this code."
    )
idata = model.require_fit()
draws = PosteriorDraws.load(run_dir / DRAWS_FILE)
names = {ally.code: ally.name for ally in dataset.allies}
deadlines = dataset.question.deadlines

# %% [markdown]
# ### Run summary
#
# What was fitted and how: the cut-off date, the evidence the model was conditioned on,
# the sampler and its settings, how long each step took, and the gate's verdict
# (`passed` is what decides publication; `failures` names every threshold missed).

# %%
verdict = "passed" if diagnostics["passed"] else "FAILED: " + "; ".join(diagnostics["failures"])
display(
    pd.Series(
        {
            "run": run_dir.name,
            "as of": record["as_of"],
            "evidence items": len(record["evidence_ids"]),
            "timing form": model.timing,
            "sampler": record["sampler_config"]["sampler"],
            "chains x draws (tune)": (
                f"{record['sampler_config']['chains']} x {record['sampler_config']['draws']}"
                f" ({record['sampler_config']['tune']})"
            ),
            "target accept": record["sampler_config"]["target_accept"],
            "seed": record["seed"],
            "gate thresholds": diagnostics["thresholds"],
            "gate verdict": verdict,
            "published": document is not None,
        },
        name="run",
    ).to_frame()
)
display(pd.Series(timings, name="seconds").to_frame())
display(
    pd.DataFrame(
        [
            {
                "ally": item.ally,
                "kind": item.kind,
                "date": item.date,
                "reliability": item.reliability,
                "severity": item.severity,
            }
            for item in sorted(evidence, key=lambda item: (item.date, item.ally))
        ]
    )
)

# %% [markdown]
# ## Convergence
#
# The gate's numbers cover every parameter *and* every reported quantity (P(confirmed by
# each deadline), each ally's P(endorse)); the table below breaks them down for the
# model's coefficients. Look for R-hat above the threshold, small bulk ESS (the centre of
# the posterior is poorly explored) or small tail ESS (its 94% intervals are not to be
# trusted), and for divergences in any chain.

# %%
display(
    pd.Series(
        {k: diagnostics[k] for k in ("r_hat_max", "ess_bulk_min", "ess_tail_min", "divergences")},
        name="gate (all quantities)",
    ).to_frame()
)
# Per chain, in each block (the per-ally block and the campaign level are sampled apart).
display(
    idata.sample_stats[["diverging", "campaign_diverging"]]
    .sum("draw")
    .to_dataframe()
    .rename(columns={"diverging": "per-ally block", "campaign_diverging": "campaign level"})
    .T
)
summary = az.summary(idata, var_names=COEFFICIENTS, hdi_prob=predict.INTERVAL_PROB)
display(summary)

# %% [markdown]
# **R-hat and ESS per coefficient.** Each dot is one coefficient (or one bloc's effect);
# the dashed lines are the gate's thresholds. Every R-hat dot should sit left of its line
# and every ESS dot right of its line. The timing parameters (`tau0`, `timing_shape`)
# and the blocs' timing shifts are the usual laggards: if they fall short, more draws or
# a higher `target_accept` is the remedy, not a looser gate.

# %%
thresholds = diagnostics["thresholds"]
panels = [
    ("r_hat", "R-hat", thresholds["r_hat_max"]),
    ("ess_bulk", "bulk ESS", thresholds["ess_bulk_min"]),
    ("ess_tail", "tail ESS", thresholds["ess_tail_min"]),
]
fig, axes = plt.subplots(1, 3, figsize=(12, 6), sharey=True)
positions = np.arange(len(summary))
for ax, (column, label, limit) in zip(axes, panels, strict=True):
    ax.scatter(summary[column], positions, color="C0")
    ax.axvline(limit, color="C3", linestyle="--", label=f"gate: {limit:g}")
    ax.set_xlabel(label)
    ax.legend(loc="lower right")
axes[0].set_yticks(positions, summary.index)
axes[0].invert_yaxis()
fig.suptitle("Convergence per coefficient")
show(fig)

# %% [markdown]
# **Energy plot.** The marginal energy distribution and the distribution of energy
# transitions between draws should overlap closely (E-BFMI well above 0.3 in every
# chain). A transition distribution much narrower than the marginal one means the sampler
# cannot move through the posterior's tails quickly: the hierarchical scales are then
# usually to blame.

# %%
az.plot_energy(idata, figsize=(7, 4))
show(plt.gcf())

# %% [markdown]
# **Rank plots.** For each coefficient, the ranks of its draws across all chains, one
# histogram per chain. Well-mixed chains give flat, interchangeable histograms; a chain
# whose ranks pile up at one end is stuck in a region the others do not visit.

# %%
az.plot_rank(idata, var_names=SCALARS, figsize=(12, 10))
show(plt.gcf())

# %% [markdown]
# ## Predictive checks: endorsement timing
#
# Endorsement days are simulated from the model's observed variable (`inf` = the ally
# never endorses), once with parameters drawn from the priors and once from the posterior.
# Summarised over the members at the cut-off: how many of them had endorsed by the
# cut-off, and on which days endorsements fall.
#
# **What to look for.** The prior predictive should be broad but plausible: it should put
# the observed count well inside its range (not at an extreme), and endorsement days
# mostly within months to a couple of years, not days or decades. The posterior
# predictive should concentrate around the observed count. Reported endorsements are not
# all certain (aggregate press reports carry a reliability below 1), so the observed
# count is a range: from the public endorsements (reliability 1) to every report. An
# observed endorsement day is the day it became known: the decision came on or before
# it, so simulated days should sit at or before the observed ones rather than after.

# %%
prior = model.sample_prior_predictive(PRIOR_DRAWS, random_seed=DEFAULT_SEED)
posterior_predictive = model.sample_posterior_predictive(random_seed=DEFAULT_SEED)
members = draws.member > 0
n_ally = len(draws.codes)
simulated = {
    label: group["endorsement"].values.reshape(-1, n_ally)[:, members]
    for label, group in (
        ("prior", prior.prior_predictive),
        ("posterior", posterior_predictive.posterior_predictive),
    )
}
reported = (draws.event > 0) & members
public = reported & (draws.reliability >= 1.0)
observed_days = draws.event_day[reported]

fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
bins = np.arange(members.sum() + 2) - 0.5
for k, (label, days) in enumerate(simulated.items()):
    by_cutoff = (days <= draws.censor_day).sum(axis=1)
    left.hist(by_cutoff, bins=bins, density=True, alpha=0.5, color=f"C{k}", label=label)
    finite = days[np.isfinite(days) & (days < 3 * 365)]
    right.hist(finite, bins=60, density=True, alpha=0.5, color=f"C{k}", label=label)
left.axvspan(public.sum() - 0.5, reported.sum() + 0.5, color="k", alpha=0.15)
left.axvline(reported.sum(), color="k", label=f"observed: {public.sum()} public, {reported.sum()}")
left.set_xlabel(f"members endorsed by the cut-off, {as_of}")
left.set_ylabel("share of simulations")
left.legend()
right.axvline(draws.censor_day, color="k", linestyle="--", label="cut-off")
right.scatter(
    observed_days,
    np.zeros_like(observed_days),
    marker="|",
    s=600,
    linewidths=2,
    color="k",
    label="observed",
)
right.set_xlabel("endorsement day (from the campaign start; < 3 years)")
right.legend()
fig.suptitle("Prior and posterior predictive vs observed")
show(fig)

never = {label: np.isinf(days).mean() for label, days in simulated.items()}
print("share of member-ally simulations that never endorse:", never)

# %% [markdown]
# ## Priors vs posteriors
#
# Each panel overlays a coefficient's prior (from the prior predictive draws above) and
# its posterior. Look for (a) posteriors that moved well away from the prior's bulk:
# either the data speak clearly or the prior was badly placed, and the reasons given in
# `ConfirmationModel.default_model_config` should be re-read; (b) posteriors piled
# against a prior's edge, a sign of conflict between prior and data; (c) coefficients
# whose posterior is the prior: nothing in the data informs them yet (for instance the
# rival-candidacy terms while no ally fields a candidate at the cut-off), so the forecast
# leans on the prior there. The table gives the shrinkage (posterior sd / prior sd):
# close to 1 means the data taught that coefficient little.

# %%
az.plot_density(
    [idata.posterior, prior.prior],
    data_labels=["posterior", "prior"],
    var_names=COEFFICIENTS,
    hdi_prob=0.99,
    shade=0.15,
    figsize=(13, 16),
)
show(plt.gcf())

spread = pd.DataFrame(
    {
        "prior sd": az.summary(prior.prior, var_names=COEFFICIENTS, kind="stats")["sd"],
        "posterior sd": summary["sd"],
    }
)
spread["posterior / prior"] = (spread["posterior sd"] / spread["prior sd"]).round(2)
display(spread)

# %% [markdown]
# ## Per ally: P(endorse) and P(endorsed by each deadline)
#
# For each ally (its status at the cut-off in brackets), the posterior of the probability
# that it endorses eventually and that it has endorsed by each deadline, from
# `predict.endorse_ever` and `predict.endorsed_by` on the run's draws (points are
# posterior medians, thick and thin lines 50% and 94% intervals). Allies with a public
# endorsement sit at 1; look at the rest: who is least likely to endorse at all, who is
# likely to endorse but late (a wide gap between "ever" and "by June"), and whether that
# matches the evidence table above (objections, grievances, rival candidacies). Every
# ally's chance includes the campaign's endgame, which brings every holdout in if the
# campaign succeeds: an ally's "ever" is at least P(the endgame succeeds).

# %%
ever = predict.endorse_ever(draws)
per_ally = {"ever": ever} | {
    f"by {d.last_day}": predict.endorsed_by(draws, np.full(draws.n_draws, draws.day(d.last_day)))
    for d in deadlines
}
order = np.argsort(ever.mean(axis=0))
labels = [f"{names[draws.codes[i]]} ({draws.status[i]})" for i in order]


class AllyLabeller(az.labels.NoVarLabeller, az.labels.NoModelLabeller):
    """Rows named by the ally alone (the legend names the quantity)."""


def as_dataset(values: np.ndarray) -> xr.Dataset:
    """Per-draw, per-ally probabilities as (chain, draw, ally) for ArviZ."""
    shaped = values[:, order].reshape(draws.chains, -1, n_ally)
    return xr.Dataset(
        {"P": (("chain", "draw", "ally"), shaped)},
        coords={"ally": labels},
    )


axes = az.plot_forest(
    [as_dataset(v) for v in per_ally.values()],
    model_names=list(per_ally),
    var_names=["P"],
    combined=True,
    hdi_prob=predict.INTERVAL_PROB,
    labeller=AllyLabeller(),
    figsize=(9, 14),
)
axes[0].set_title("P(endorse) per ally: eventually and by each deadline")
show(plt.gcf())

# %% [markdown]
# ## When is the candidate confirmed?
#
# P(confirmed by day D) from `predict.confirmed_by` for every day from the cut-off to 280
# days on: every member consents, then the formal decision follows after the decision
# lag. Consent comes when the last member decides on its own or, earlier, at the
# campaign's endgame if the endgame brings every holdout in (see the campaign level
# below). The line is the posterior mean, the band the 94% interval over draws; the
# dashed lines are the April ministerial and June deadlines, and the dots the weekly
# curve of the published forecast document, which must lie on the line. Look for a curve
# that rises over the weeks in which past endgames came and levels off at P(ever
# confirmed) (the dotted line) within months; a very wide band at a deadline says the
# forecast for it is uncertain, not wrong.

# %%
days = draws.censor_day + np.arange(0, 281, dtype=float)
confirmed = predict.confirmed_by(draws, days)
low, high = np.quantile(confirmed, INTERVAL_TAILS, axis=0)
dates = [draws.date(day) for day in days]

fig, ax = plt.subplots(figsize=(10, 5))
ax.fill_between(dates, low, high, color="C0", alpha=0.25, label="94% interval")
ax.plot(dates, confirmed.mean(axis=0), color="C0", label="P(confirmed by date)")
for k, deadline in enumerate(deadlines):
    p = predict.confirmed_by(draws, draws.day(deadline.last_day))
    ax.axvline(deadline.last_day, color=f"C{k + 1}", linestyle="--")
    ax.annotate(
        f"{deadline.label}\nP = {p.mean():.1%}",
        (deadline.last_day, 0.98 - 0.12 * k),
        xytext=(4, 0),
        textcoords="offset points",
        va="top",
        fontsize=8,
        color=f"C{k + 1}",
    )
ever_confirmed = predict.confirmed_ever(draws)
ax.axhline(ever_confirmed.mean(), color="C0", linestyle=":", label="P(ever confirmed)")
if document is not None:
    curve = pd.DataFrame(document["curve"])
    ax.plot(
        pd.to_datetime(curve["date"]), curve["p_confirmed"], "o", ms=3, color="k", label="document"
    )
ax.set_ylim(0, 1)
ax.set_ylabel("probability")
ax.set_title(f"Confirmation date, as of {as_of}")
ax.legend(loc="center left")
fig.autofmt_xdate()
show(fig)

# %% [markdown]
# ## The campaign level: what past appointments teach
#
# Whether the front-runner is confirmed at all, and when the holdouts give way, are
# learned from the reference class (`data/campaigns.csv` and the dated holdout counts of
# `data/holdout_counts.csv`): past appointments to posts one member or a defined group
# could block, successes and failures. Below: the reference class, this
# campaign's P(the endgame brings every holdout in), the endgame's median day and the
# chance that a fixed date of its calendar binds (the focal points: a meeting or the
# incumbent's term end settles the campaign in the days at and just before it), and each
# campaign-level parameter's prior beside its posterior. The endgame's covariates
# (`endgame_coef`: the holdout group's size, as log1p of the count, and a rival
# candidacy) have priors argued in docs/model.md; this campaign's ten holdouts lie within
# the reference class's range (0 to 59 on the emergence day, seven campaigns with 3 to 9),
# though most of its campaigns had none to two. The success covariates' coefficients
# (`success_coef`) have small priors on purpose (docs/model.md: on the reference class
# they did not predict the outcome); organisation
# shifts (`org_effect`, `org_success`) are partially pooled with fixed sds. Look for the
# posterior of `endgame_mu` and `success_intercept` to have moved from its prior (the
# reference class informs them), and for this campaign's numbers to be in line with the
# past campaigns of its organisation.

# %%
display(
    pd.DataFrame(
        [
            {
                "campaign": c.id,
                "rule": c.rule,
                "emerged": c.emerged,
                "outcome": c.outcome,
                "days": int(c.days),
                "all largest backed": c.all_largest_backed,
                "heavyweight objection": c.heavyweight_objection,
                "blocking objection": c.blocking_objection,
                "rival candidacy": c.rival_candidacy,
                "fallback": c.fallback,
                "holdouts": c.holdouts,
                "dated counts": len(c.counts),
                "fixed meetings (days after emergence)": ", ".join(
                    f"{d:.0f}" for d in c.meeting_days
                ),
            }
            for c in dataset.campaigns
        ]
    )
)
# This campaign's endgame: its median day (days from emergence, with the calendar's focal
# points) and P(a fixed date binds), per draw.
endgame_days = endgame.quantile(
    np.full(draws.n_draws, 0.5),
    draws.endgame_location,
    draws.endgame_shape,
    draws.endgame_focal,
    np.asarray(draws.calendar_days),
    *draws.focal_window,
)
campaign_numbers = {
    "P(endgame brings every holdout in)": draws.p_success,
    "median day of the endgame (days from emergence)": endgame_days,
    "P(a fixed date of the calendar binds)": draws.endgame_focal,
}
display(
    pd.DataFrame(
        {
            "posterior mean": [v.mean() for v in campaign_numbers.values()],
            "94% low": [np.quantile(v, 0.03) for v in campaign_numbers.values()],
            "94% high": [np.quantile(v, 0.97) for v in campaign_numbers.values()],
        },
        index=list(campaign_numbers),
    )
)
az.plot_density(
    [idata.posterior, prior.prior],
    data_labels=["posterior", "prior"],
    var_names=CAMPAIGN_PARAMETERS,
    hdi_prob=0.99,
    shade=0.15,
    figsize=(13, 10),
)
show(plt.gcf())

# %% [markdown]
# ## Predictive checks: outcome and time to consensus of past campaigns
#
# Reference classes are simulated from the campaign level with parameters drawn from the
# priors, and from the posterior: for every past campaign an outcome (confirmed or
# dropped) and the days from emergence to it. Three statistics of each simulated class
# are set beside the observed one: the share confirmed, the median days to the outcome
# and the share settled within 30 days. `observed_quantile` is where the observed value
# falls among the simulated ones. The prior predictive should cover it without being
# absurd (days to months, not hours or decades); the posterior predictive should put it
# in its bulk (a quantile near 0 or 1 means the model cannot reproduce what happened).

# %%
checks = {
    "prior": predictive_summary(prior.prior, dataset.campaigns, seed=DEFAULT_SEED),
    "posterior": predictive_summary(idata.posterior, dataset.campaigns, seed=DEFAULT_SEED),
}
display(pd.concat(checks, names=["draws from"]).round(3))
fig, axes = plt.subplots(1, len(checks["posterior"]), figsize=(16, 3.5))
for ax, (_, row) in zip(axes, checks["posterior"].iterrows(), strict=True):
    for k, (label, table) in enumerate(checks.items()):
        found = table.set_index("statistic").loc[row["statistic"]]
        ax.errorbar(
            found["simulated_mean"],
            k,
            xerr=[
                [found["simulated_mean"] - found["simulated_94_low"]],
                [found["simulated_94_high"] - found["simulated_mean"]],
            ],
            fmt="o",
            color=f"C{k}",
            label=label,
        )
    ax.axvline(row["observed"], color="k", label="observed")
    ax.set_yticks([0, 1], list(checks))
    ax.set_title(row["statistic"], fontsize=9)
axes[0].legend(loc="lower left", fontsize=8)
fig.suptitle("Simulated reference classes (mean and 94% range) vs the observed one")
show(fig)

# %% [markdown]
# ## Campaign-level recovery
#
# Reference classes of simulated campaigns (`run_campaign_recovery`) are drawn with known
# campaign-level parameters, each set away from its prior mean, and refitted. A
# parameter is recovered when its posterior contracts from the prior (`contraction` = 1 -
# posterior sd / prior sd, well above 0) and its mean moves towards the true value; a
# fit that ignored the data would show neither (the test suite checks both, and that
# they fail with the likelihood switched off). Intervals should cover the truth at about
# their nominal rate.

# %%
found, line = stored_checks.current_or_compute(
    "campaign_recovery", dataset, DATA_DIR, quick=QUICK, folder=CHECKS_DIR
)
print(line)
campaign_recovery = pd.DataFrame(found.result)
display(campaign_recovery.round(3))
fig, ax = plt.subplots(figsize=(8, 0.35 * len(campaign_recovery) + 1.5))
rows = np.arange(len(campaign_recovery))
ax.hlines(
    rows,
    campaign_recovery["low"] - campaign_recovery["truth"],
    campaign_recovery["high"] - campaign_recovery["truth"],
)
ax.scatter(campaign_recovery["mean"] - campaign_recovery["truth"], rows, label="posterior mean")
ax.scatter(
    campaign_recovery["prior_mean"] - campaign_recovery["truth"],
    rows,
    marker="x",
    color="C3",
    label="prior mean",
)
ax.axvline(0, color="k", linewidth=1)
ax.set_yticks(
    rows,
    campaign_recovery["parameter"] + " (seed " + campaign_recovery["seed"].astype(str) + ")",
)
ax.invert_yaxis()
ax.set_xlabel("estimate - true value")
ax.legend()
show(fig)

# %% [markdown]
# ## Leave-one-out on the reference class
#
# Each past campaign is forecast as of its front-runner's emergence by the campaign
# level fitted to the other campaigns only (`backtest_campaigns`, also
# `python -m forecast backtest --campaigns`): P(confirmed at all), P(confirmed within
# 30, 60 and 120 days) and, for campaigns with a fixed meeting, P(confirmed by the end of
# the first one), scored against what happened (Brier and log scores: lower is better)
# beside the base rate of the other campaigns; "timing" is the last four questions
# together. Then where each outcome's day fell in its forecast distribution of the
# endgame's day (coverage of the 50% and 90% intervals, PIT by quarter: a calibrated
# forecast puts about a quarter in each). The printed line after is the model before
# the campaign level in its simplest form: every holdout consents on its own with the
# per-ally prior mean, so P(confirmed) = pi^holdouts.

# %%
found, line = stored_checks.current_or_compute(
    "campaign_backtest", dataset, DATA_DIR, quick=QUICK, folder=CHECKS_DIR
)
print(line)
loo = found.result
display(
    pd.DataFrame(
        [
            # "by_first_meeting" is asked only of campaigns with a fixed meeting.
            {"campaign": row["id"]}
            | {f"P {q}": round(row["forecasts"].get(q, np.nan), 2) for q in QUESTIONS}
            | {f"{q}?": row["outcomes"].get(q, np.nan) for q in QUESTIONS}
            for row in loo["campaigns"]
        ]
    )
)
scores = pd.DataFrame(loo["by_question"]).T
timing = loo["timing"]
scores.loc["timing"] = [timing[k] for k in ("brier", "log", "base_rate_brier", "base_rate_log")]
scores.loc["all"] = [loo["brier"], loo["log"], loo["base_rate_brier"], loo["base_rate_log"]]
display(scores.round(4))
print("independent holdouts (P(confirmed) = pi^holdouts):", loo["independent_holdouts"])
calibration = loo["endgame_calibration"]
print(
    f"endgame day: {calibration['coverage_50']:.0%} of outcomes in the central 50% interval, "
    f"{calibration['coverage_90']:.0%} in the 90%; PIT by quarter {calibration['pit_quarters']}"
)

# %% [markdown]
# ## Parameter recovery
#
# Data sets are simulated from the model with known parameters (`run_recovery`: one per
# seed, with synthetic allies), refitted, and each parameter's 94% interval is checked
# against the value used. The figure shows each interval and posterior mean *minus the
# true value*, so every line should cross zero (the vertical line); red ones do not.
# With 94% intervals about one parameter in seventeen misses by chance; misses that
# repeat for the same parameter across seeds, or means consistently to one side, point
# to a bias in the model or a coding error. (Quick mode uses one seed and few allies, so
# it checks that recovery runs, not coverage.)

# %%
# Without a current stored result, quick mode leaves these refits (a compilation of their
# own) to the test suite (tests/forecast/checks/test_ally_recovery.py).
found, line = stored_checks.current_or_compute(
    "ally_recovery", dataset, DATA_DIR, quick=QUICK, folder=CHECKS_DIR, run_now=not QUICK
)
print(line)
recovery = (
    pd.DataFrame(found.result)
    if found
    else pd.DataFrame(columns=["parameter", "true", "mean", "lower", "upper", "covered"])
)
display(recovery)

fig, ax = plt.subplots(figsize=(8, 0.3 * len(recovery) + 1.5))
rows = np.arange(len(recovery))
colors = np.where(recovery["covered"], "C0", "C3")
ax.hlines(rows, recovery["lower"] - recovery["true"], recovery["upper"] - recovery["true"], colors)
ax.scatter(recovery["mean"] - recovery["true"], rows, c=colors, zorder=3)
ax.axvline(0, color="k", linewidth=1)
row_labels = recovery["parameter"].astype(str)
if "seed" in recovery:
    row_labels = row_labels + " (seed " + recovery["seed"].astype(str) + ")"
ax.set_yticks(rows, row_labels)
ax.invert_yaxis()
ax.set_xlabel("estimate - true value (94% interval and mean)")
ax.set_title(f"Recovery: {recovery['covered'].mean():.0%} of intervals cover the true value")
show(fig)

# %% [markdown]
# ## Timing forms compared (LOO)
#
# The model is refitted at the same cut-off and evidence with each timing form
# (log-normal and Weibull), and the forms are compared by PSIS-LOO expected log
# predictive density (`compare_timing_forms`, an `az.compare` table). In the plot the
# better form is on top; open circles are the elpd estimates, bars their standard errors,
# and the triangles with grey bars the difference from the best. A difference smaller
# than about twice its standard error (`dse`) means the data cannot tell the forms apart,
# and the forecast should not depend much on the choice. Check the `warning`,
# `pareto_k_max` and `divergences` columns: a Pareto k above 0.7 means LOO is unreliable
# for some ally (with one observation per ally, an ally unlike the others can do that),
# and a fit with divergences has not explored its posterior, so its elpd is not to be
# compared at all.

# %%
# Compared at this run's cut-off and evidence. Without a current stored result, quick mode
# leaves the two compilations to tests/forecast/checks/test_timing_forms.py.
found, line = stored_checks.current_or_compute(
    "timing_forms",
    dataset,
    DATA_DIR,
    quick=QUICK,
    folder=CHECKS_DIR,
    as_of=as_of,
    evidence=evidence,
    run_now=not QUICK,
)
print(line)
if found is not None:
    comparison = pd.DataFrame(found.result).set_index("form")
    display(comparison)
    az.plot_compare(comparison, insample_dev=False, plot_ic_diff=True, legend=True, figsize=(8, 3))
    show(plt.gcf())
print(f"the run above uses the {model.timing} form")

# %% [markdown]
# ## How to judge the forecast from the above
#
# Trust the forecast when all of the following hold, in this order:
#
# 1. **The gate passed with the real thresholds** (run summary): R-hat <= 1.01, bulk and
#    tail ESS >= 400, no divergences. A quick-mode run never qualifies.
# 2. **Convergence figures agree with the gate**: every coefficient inside the dashed
#    lines, energy distributions overlapping, flat rank histograms. If the gate passed
#    but a figure looks wrong, the gate's thresholds are not catching a real problem.
# 3. **Predictive checks are plausible**: the prior predictive covers the observed count
#    without being absurd, and the posterior predictive puts the observed count (the
#    shaded range) in its bulk. A posterior predictive that misses it means the model
#    cannot reproduce what already happened, and its forecast of what happens next is
#    suspect.
# 4. **Priors vs posteriors make sense**: where the data inform a coefficient, the
#    posterior moved in the direction the evidence suggests; where they do not, the
#    forecast rests on the prior's stated reason, which should be acceptable to a reader.
# 5. **Per-ally probabilities match the evidence**: the allies the forecast depends on
#    (lowest P(endorse), or latest) are the ones the evidence names as holding out.
# 6. **The confirmation curve is coherent**: it starts near 0 at the cut-off unless
#    consensus is already public, increases, and the published document's points lie on
#    it.
# 7. **Recovery works**: intervals cover the true values at about their nominal rate,
#    with no parameter missed systematically; the campaign level contracts from its
#    priors towards the truth.
# 8. **The campaign level earns its place**: past campaigns' outcomes and times are
#    reproduced by the posterior predictive, and the leave-one-out scores are no worse
#    than the base rate.
# 9. **The timing form does not decide the answer**: either the forms are
#    indistinguishable by LOO or the run uses the better one; no Pareto k warnings that
#    are left unexplained.
#
# If any of these fail, the forecast should not be published (or, if published, its
# numbers should be quoted with that caveat) until the model or its data are fixed.
