"""The campaign level of consent, learned from the reference class of past appointments.

A campaign ends in one of two ways: every member is on board (the candidate is
confirmed) or the candidate is replaced. Each campaign ``k`` has an *endgame* ``E_k``, the
days from the front-runner's emergence until the holdouts give way together or the bid
is dropped, and an outcome: with probability ``p_k`` the endgame brings every remaining
member in, otherwise the candidate is withdrawn.

    logit p_k    = success_intercept + org_success[org_k] + success_coef . x_k
    E_k          = the first of a diffuse day and a binding fixed date:
    log E_c      ~ Normal(endgame_mu + org_effect[org_k] + endgame_coef . z_k, org_shape[org_k])
    logit q_k    = focal_intercept + org_focal[org_k] + focal_holdouts * log1p(holdouts_k)

The diffuse day runs on a clock the holdouts slow down (``forecast.posterior.endgame``):
while the campaign's endgame covariates are ``z(t)``, the clock runs at
``exp(-endgame_coef . (z(t) - z_k))`` days a day, so a past campaign's dated counts of
holdouts (``holdout_counts.csv``) say how long the holdouts left took to give way, and
the current campaign's path of holdouts since its emergence carries into today's clock.
With ``z`` constant the clock is the calendar and ``E_c`` is the log-normal above.

``x_k`` are the campaign's covariates on the day its front-runner emerged (all the
largest members backing, a largest member objecting, a member's rival candidacy); ``z_k``
the endgame's (the size of the holdout group, ``log1p(holdouts)``, and a rival
candidacy). Each fixed date of the campaign's calendar (a meeting, the incumbent's term
end) binds with probability ``q_k`` and then settles it in the days at and just before
it (``forecast.posterior.endgame``, which computes the same survival in numpy).
Organisation effects are partially pooled (non-centred, fixed sds). Past campaigns enter
with their outcome and its day; the current campaign, still open at the cut-off,
contributes ``P(E > elapsed)`` (time passing without an endgame is evidence too, and a
fixed date that passed without a deal tells about ``q``).

No parameter here is shared with the per-ally model (forecast/model/confirmation.py), and no
observation involves both: the joint posterior is the product of the two, so each is
sampled on its own and chain ``k`` of one is paired with chain ``k`` of the other. The
campaign level is compiled once per process for a configuration and reference class
(``compiled_reference_model``), whichever dataset or backtest asks for it.
"""

from __future__ import annotations

import json
import logging
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from forecast.data.inputs import CALENDAR_SLOTS, PATH_SLOTS, ModelInputs
from forecast.data.reference import CAMPAIGN_COVARIATES, Campaign
from forecast.model import precompile
from forecast.model.compiled import compile_for_nutpie
from forecast.posterior import endgame

logger = logging.getLogger(__name__)

# The model config keys the campaign level reads (its compiled form depends on no other).
CONFIG_KEYS: tuple[str, ...] = (
    "success_intercept_mu",
    "success_intercept_sd",
    "success_coef_mu",
    "success_coef_sd",
    "endgame_mu_days",
    "endgame_mu_sd",
    "endgame_shape_mu",
    "endgame_shape_sd",
    "org_scale",
    "org_success_scale",
    "org_shape_sd",
    "reference_window_days",
    "endgame_coef_mu",
    "endgame_coef_sd",
    "focal_intercept_mu",
    "focal_intercept_sd",
    "focal_holdouts_mu",
    "focal_holdouts_sd",
    "org_focal_scale",
    "focal_lead_days",
    "focal_tail_days",
)
# The endgame's covariates: the size of the holdout group (log1p of the count: the
# reference class mostly holds 0 to 5, a forecast may hold ten), a member's rival
# candidacy, and whether no member holds out (``forecast.posterior.endgame.covariates``).
ENDGAME_COVARIATES: tuple[str, ...] = ("holdouts", "rival_candidacy", "no_holdouts")
# Fixed dates per campaign in the compiled model: ``CALENDAR_SLOTS`` (unused slots
# hold ``NO_DATE``).
NO_DATE = 1e6
_SQRT_HALF = float(np.sqrt(0.5))
# Compiled campaign-level models of this process, by configuration and reference class.
_COMPILED: dict[str, Any] = {}
# Their free variables' names, kept when they are built (the gate checks these).
_PARAMETERS: dict[str, list[str]] = {}
_COMPILED_LOCK = threading.Lock()


def organisations(campaigns: Sequence[Campaign], current: str) -> list[str]:
    """The organisation coordinate: the reference class's, then the current one if new."""
    names = sorted({c.organisation for c in campaigns})
    return names if current in names else [*names, current]


def calendar_slots(days: Sequence[float]) -> np.ndarray:
    """Fixed dates (days from emergence) in the compiled model's ``CALENDAR_SLOTS``."""
    if len(days) > CALENDAR_SLOTS:
        raise ValueError(f"{len(days)} fixed dates; at most {CALENDAR_SLOTS} are modelled")
    return np.array([*days, *[NO_DATE] * (CALENDAR_SLOTS - len(days))], dtype=float)


# The endgame's covariates, in ``ENDGAME_COVARIATES`` order (numpy: the posterior's maths
# recompute the endgame for the holdouts left with the same function).
endgame_covariates = endgame.covariates


def reference_path(campaign: Campaign, until: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """A past campaign's holdout path in the compiled model's ``PATH_SLOTS``: each
    stretch's first day (days from emergence; unused slots start at ``NO_DATE``) and its
    endgame covariates (the count's holdouts; the rival candidacy of the emergence day,
    which the counts do not date), shape (slot,) and (slot, covariate)."""
    path = campaign.holdout_path(until) or ((0.0, campaign.holdouts),)
    starts = np.full(PATH_SLOTS, NO_DATE)
    z = np.tile(
        endgame_covariates(campaign.holdouts, float(campaign.rival_candidacy)), (PATH_SLOTS, 1)
    )
    for j, (start, holdouts) in enumerate(path):
        starts[j] = start
        z[j:] = endgame_covariates(holdouts, float(campaign.rival_candidacy))
    return starts, z


def current_path(path: Sequence[tuple[float, float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """The current campaign's days in each state (``CampaignState.path``) in
    ``PATH_SLOTS``: days (unused slots 0) and endgame covariates, (slot,), (slot, cov)."""
    if len(path) > PATH_SLOTS:
        raise ValueError(f"{len(path)} states on the path; at most {PATH_SLOTS} are modelled")
    days = np.zeros(PATH_SLOTS)
    z = np.zeros((PATH_SLOTS, len(ENDGAME_COVARIATES)))
    for j, (spent, holdouts, rival) in enumerate(path):
        days[j] = spent
        z[j] = endgame_covariates(holdouts, rival)
    return days, z


def reference_values(
    cfg: Mapping[str, Any], campaigns: Sequence[Campaign], orgs: Sequence[str]
) -> dict[str, np.ndarray]:
    """Arrays of the reference class for ``pm.Data``: covariates, organisation, days, outcome,
    the endgame's covariates and the fixed dates after each emergence, and the holdout
    path (``reference_path``) as a list of stretches: each one's campaign, covariates
    less the emergence day's, and days before the two ends of the outcome's week (the
    clock at a day is the stretches' rates times these days; the days are data, so the
    log-density computes only the rates, one per stretch).

    ``reference_weight`` is 1 for every campaign; a backtest sets a left-out one to 0.
    """
    paths = [reference_path(c) for c in campaigns]
    z = np.array(
        [endgame_covariates(c.holdouts, float(c.rival_candidacy)) for c in campaigns]
    ).reshape(len(campaigns), len(ENDGAME_COVARIATES))
    ended = np.array([c.days for c in campaigns], dtype=float)
    began = np.maximum(ended - cfg["reference_window_days"], 0.5)
    starts = np.array([p[0] for p in paths]).reshape(len(campaigns), PATH_SLOTS)
    path_z = np.array([p[1] for p in paths]).reshape(
        len(campaigns), PATH_SLOTS, len(ENDGAME_COVARIATES)
    )
    # One entry per stretch that starts before the outcome's day ends (a ragged list:
    # campaigns hold one to eight): its campaign, its covariates less the emergence
    # day's, and its days before each end of the outcome's week.
    dz = path_z - z[:, None, :]
    ended_days = endgame.stretch_days(ended, starts)
    campaign, stretch = np.nonzero(ended_days > 0)
    return {
        "reference_stretch_campaign": campaign.astype("int64"),
        "reference_stretch_dz": dz[campaign, stretch].reshape(-1, len(ENDGAME_COVARIATES)),
        "reference_stretch_began": endgame.stretch_days(began, starts)[campaign, stretch],
        "reference_stretch_ended": ended_days[campaign, stretch],
        "reference_z": z,
        "reference_dates": np.array([calendar_slots(c.meeting_days) for c in campaigns]).reshape(
            len(campaigns), CALENDAR_SLOTS
        ),
        "reference_x": np.array(
            [[float(getattr(c, f)) for f in CAMPAIGN_COVARIATES] for c in campaigns], dtype=float
        ).reshape(len(campaigns), len(CAMPAIGN_COVARIATES)),
        "reference_org": np.array([orgs.index(c.organisation) for c in campaigns], dtype="int64"),
        "reference_days": np.array([c.days for c in campaigns], dtype=float),
        "reference_confirmed": np.array([float(c.confirmed) for c in campaigns], dtype=float),
        "reference_weight": np.ones(len(campaigns), dtype=float),
    }


def data_values(
    cfg: Mapping[str, Any], inputs: ModelInputs, orgs: Sequence[str]
) -> dict[str, np.ndarray]:
    """The campaign level's ``pm.Data`` at a cut-off: the reference class and the current
    campaign (its covariates, days elapsed, whether the candidate stands, organisation)."""
    campaign = inputs.campaign
    rival = campaign.rival
    path_days, path_z = current_path(campaign.path)
    return {
        **reference_values(cfg, inputs.reference, orgs),
        "campaign_path_days": path_days,
        "campaign_path_z": path_z,
        "campaign_x": np.asarray(campaign.covariates, dtype=float),
        "campaign_z": endgame_covariates(campaign.holdouts, rival),
        "campaign_dates": calendar_slots(campaign.calendar_days),
        "campaign_elapsed": np.asarray(campaign.elapsed, dtype=float),
        "campaign_open": np.asarray(float(not campaign.withdrawn)),
        "campaign_org": np.asarray(list(orgs).index(inputs.organisation), "int64"),
    }


def add_campaign_level(
    cfg: Mapping[str, Any],
    reference: Mapping[str, Any],
    current: Mapping[str, Any],
    current_org: Any,
) -> dict[str, Any]:
    """Add the campaign level to the model on the context stack.

    Parameters
    ----------
    cfg
        The model config (``success_*``, ``endgame_*``, ``org_scale`` priors).
    reference
        ``pm.Data`` of ``reference_values`` (dims ``campaign``, ``campaign_covariate``,
        ``endgame_covariate``, ``calendar_slot``).
    current
        ``pm.Data`` of the current campaign: ``campaign_x`` and ``campaign_z`` (its
        covariates at the cut-off), ``campaign_dates`` (its calendar, days from
        emergence), ``campaign_elapsed`` (days from emergence to the end of the cut-off)
        and ``campaign_open`` (1 while the candidate stands).
    current_org
        Index of the current campaign's organisation in the ``organisation`` coordinate
        (an int, or an integer ``pm.Data`` when it changes between fits).

    Returns
    -------
    dict
        The current campaign's ``p_success``, ``endgame_location``, ``endgame_shape``
        and ``endgame_focal``.
    """
    params = _priors(cfg)
    _reference_class(cfg, params, reference)
    return _current_campaign(cfg, params, current, current_org)


def _priors(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The campaign level's parameters; reasons for each prior are in
    ``forecast.model.config`` and docs/model.md."""
    # Whether: log-odds that the endgame brings every holdout in.
    a0 = pm.Normal("success_intercept", cfg["success_intercept_mu"], cfg["success_intercept_sd"])
    coef = pm.Normal(
        "success_coef",
        mu=np.array([cfg["success_coef_mu"][k] for k in CAMPAIGN_COVARIATES]),
        sigma=cfg["success_coef_sd"],
        dims="campaign_covariate",
    )
    # When: log-days from emergence to the endgame; organisations partially pooled.
    endgame_mu = pm.Normal("endgame_mu", np.log(cfg["endgame_mu_days"]), cfg["endgame_mu_sd"])
    shape_typical = pm.Gamma(
        "endgame_shape_typical", mu=cfg["endgame_shape_mu"], sigma=cfg["endgame_shape_sd"]
    )
    # Some organisations settle on a tighter timetable than others: the spread is pooled
    # across them on the log scale (non-centred, sd fixed by the config).
    shape_z = pm.Normal("org_shape_z", 0.0, 1.0, dims="organisation")
    org_shape = pm.Deterministic(
        "org_shape", shape_typical * pt.exp(cfg["org_shape_sd"] * shape_z), dims="organisation"
    )
    # Organisations differ in procedure and in who leads. Their shifts are partially
    # pooled with a fixed between-organisation sd: with four organisations an sd learned
    # from the data sat in a funnel (the sampler diverged) and said little beyond its prior.
    org_effect = pm.Deterministic(
        "org_effect",
        cfg["org_scale"] * pm.Normal("org_z", 0.0, 1.0, dims="organisation"),
        dims="organisation",
    )
    org_success = pm.Deterministic(
        "org_success",
        cfg["org_success_scale"] * pm.Normal("org_success_z", 0.0, 1.0, dims="organisation"),
        dims="organisation",
    )
    # A larger holdout group and a rival candidacy lengthen the diffuse endgame.
    endgame_coef = pm.Normal(
        "endgame_coef",
        mu=np.array([cfg["endgame_coef_mu"][k] for k in ENDGAME_COVARIATES]),
        sigma=np.array([cfg["endgame_coef_sd"][k] for k in ENDGAME_COVARIATES]),
        dims="endgame_covariate",
    )
    # Focal points: log-odds that a fixed date binds (settles the campaign in the days
    # at and just before it), lower with more holdouts to satisfy at one meeting.
    focal0 = pm.Normal("focal_intercept", cfg["focal_intercept_mu"], cfg["focal_intercept_sd"])
    focal_holdouts = pm.Normal("focal_holdouts", cfg["focal_holdouts_mu"], cfg["focal_holdouts_sd"])
    org_focal = pm.Deterministic(
        "org_focal",
        cfg["org_focal_scale"] * pm.Normal("org_focal_z", 0.0, 1.0, dims="organisation"),
        dims="organisation",
    )
    return {
        "a0": a0,
        "coef": coef,
        "endgame_mu": endgame_mu,
        "org_shape": org_shape,
        "org_effect": org_effect,
        "org_success": org_success,
        "endgame_coef": endgame_coef,
        "focal0": focal0,
        "focal_holdouts": focal_holdouts,
        "org_focal": org_focal,
    }


def log_survival(
    cfg: Mapping[str, Any],
    day: Any,
    location: Any,
    shape: Any,
    focal: Any,
    dates: Any,
    clock: Any = None,
) -> Any:
    """``log P(E > day)`` in PyTensor, as ``forecast.posterior.endgame.log_survival``.

    ``day``, ``location``, ``shape`` and ``focal`` broadcast (one per campaign or a
    scalar); ``dates`` has the calendar slots on its last axis. ``clock`` is the
    diffuse endgame's clock at ``day`` (``day`` itself if None).
    """
    lead, tail = cfg["focal_lead_days"], cfg["focal_tail_days"]
    # The log-normal's log-survival as the log of ``erfc``, as the per-ally likelihood
    # writes it (forecast.model.likelihood): precise to about 37 sds above the median
    # (floored there, far beyond any campaign), and its gradient is one branch (PyMC's
    # log-CDF of the log-normal evaluates two, then log1mexp; with the clock's reading as
    # the argument that cost a fifth of the campaign level's sampling time).
    z = (pt.log(day if clock is None else clock) - location) / shape
    diffuse = pt.log(pt.maximum(0.5 * pt.erfc(z * _SQRT_HALF), 1e-300))
    starts = pt.maximum(dates - lead, 0.0)  # a window opens at emergence at the earliest
    passed = pt.clip((day[..., None] - starts) / (dates + tail - starts), 0.0, 1.0)
    return diffuse + pt.sum(pt.log1p(-focal[..., None] * passed), axis=-1)


def _location(params: Mapping[str, Any], org: Any, z: Any) -> Any:
    """The diffuse endgame's log-scale location, per campaign."""
    return params["endgame_mu"] + params["org_effect"][org] + pt.dot(z, params["endgame_coef"])


def _focal(params: Mapping[str, Any], org: Any, z: Any) -> Any:
    """P(a fixed date binds), per campaign: its organisation and holdout group."""
    holdouts = z[..., ENDGAME_COVARIATES.index("holdouts")]
    return pm.math.sigmoid(
        params["focal0"] + params["org_focal"][org] + params["focal_holdouts"] * holdouts
    )


def _reference_class(
    cfg: Mapping[str, Any], params: Mapping[str, Any], reference: Mapping[str, Any]
) -> None:
    """Each past campaign's outcome and its days from emergence to the outcome."""
    org = reference["reference_org"]
    weight = reference["reference_weight"]
    logit_ref = (
        params["a0"] + params["org_success"][org] + pt.dot(reference["reference_x"], params["coef"])
    )
    outcome = pm.logp(pm.Bernoulli.dist(logit_p=logit_ref), reference["reference_confirmed"])
    z = reference["reference_z"]
    location_ref = _location(params, org, z)
    # Each stretch's clock rate against the emergence day's (the location's) covariates;
    # a campaign's clock adds its stretches' days at their rates.
    rates = pt.exp(-pt.dot(reference["reference_stretch_dz"], params["endgame_coef"]))
    campaign = reference["reference_stretch_campaign"]
    shape_ref = params["org_shape"][org]
    focal_ref = _focal(params, org, z)
    dates = reference["reference_dates"]
    # A campaign's days are known to within about a week: the emergence dates are the
    # first reports, often approximate (data/README.md). Read as an interval, a
    # one-campaign organisation cannot pull its spread to zero (an unbounded density).
    ended = reference["reference_days"]
    began = pt.maximum(ended - cfg["reference_window_days"], 0.5)
    no_days = pt.zeros_like(ended)
    clock_began = pt.inc_subtensor(no_days[campaign], rates * reference["reference_stretch_began"])
    clock_ended = pt.inc_subtensor(no_days[campaign], rates * reference["reference_stretch_ended"])
    survived = log_survival(cfg, began, location_ref, shape_ref, focal_ref, dates, clock_began)
    ended_by = log_survival(cfg, ended, location_ref, shape_ref, focal_ref, dates, clock_ended)
    days = survived + pt.log1mexp(ended_by - survived)
    pm.Potential("reference_class", pt.sum(weight * (outcome + days)))


def _current_campaign(
    cfg: Mapping[str, Any],
    params: Mapping[str, Any],
    current: Mapping[str, Any],
    current_org: Any,
) -> dict[str, Any]:
    """The current campaign's chance of success and endgame; still open at the cut-off,
    it contributes ``P(E > elapsed)``."""
    p_success = pm.Deterministic(
        "p_success",
        pm.math.sigmoid(
            params["a0"]
            + params["org_success"][current_org]
            + pt.dot(current["campaign_x"], params["coef"])
        ),
    )
    z = current["campaign_z"]
    location = pm.Deterministic(
        "endgame_location",
        _location(params, current_org, z),
    )
    # The endgame's location and the focal log-odds before the campaign's own covariates:
    # a what-if that changes the holdouts left recomputes them (forecast.posterior.campaign).
    pm.Deterministic("endgame_base", params["endgame_mu"] + params["org_effect"][current_org])
    pm.Deterministic("focal_base", params["focal0"] + params["org_focal"][current_org])
    endgame_shape = pm.Deterministic("endgame_shape", params["org_shape"][current_org])
    focal = pm.Deterministic("endgame_focal", _focal(params, current_org, z))
    # The clock's reading at the cut-off in base days (covariates 0), from the days spent
    # in each state since emergence; today's covariates carry it into ``location``'s days.
    clock = pm.Deterministic(
        "endgame_clock",
        pt.sum(
            current["campaign_path_days"]
            * pt.exp(-pt.dot(current["campaign_path_z"], params["endgame_coef"]))
        ),
    )
    elapsed = current["campaign_elapsed"]
    still_open = log_survival(
        cfg,
        pt.maximum(elapsed, 1e-3),
        location,
        endgame_shape,
        focal,
        current["campaign_dates"],
        pt.maximum(pt.exp(pt.dot(z, params["endgame_coef"])) * clock, 1e-3),
    )
    pm.Potential(
        "campaign_still_open",
        current["campaign_open"] * pt.switch(elapsed > 0, still_open, 0.0),
    )
    return {
        "p_success": p_success,
        "endgame_location": location,
        "endgame_shape": endgame_shape,
        "endgame_focal": focal,
    }


def reference_model(
    cfg: Mapping[str, Any], campaigns: Sequence[Campaign], orgs: Sequence[str]
) -> pm.Model:
    """The campaign level alone, on the reference class (for backtests and recovery).

    Its ``pm.Data`` (``reference_weight`` to leave campaigns out, ``campaign_x`` and
    ``campaign_org`` for the campaign forecast) change without recompiling.
    """
    coords = {
        "campaign": [c.id for c in campaigns],
        "campaign_covariate": list(CAMPAIGN_COVARIATES),
        "endgame_covariate": list(ENDGAME_COVARIATES),
        "calendar_slot": list(range(CALENDAR_SLOTS)),
        "path_slot": list(range(PATH_SLOTS)),
        "organisation": list(orgs),
    }
    values = reference_values(cfg, campaigns, orgs)
    dims = {
        "reference_x": ("campaign", "campaign_covariate"),
        "reference_z": ("campaign", "endgame_covariate"),
        # The stretches' list is as long as the data's: no coordinate.
        "reference_stretch_campaign": None,
        "reference_stretch_dz": None,
        "reference_stretch_began": None,
        "reference_stretch_ended": None,
    }
    with pm.Model(coords=coords) as model:
        reference = {
            name: pm.Data(name, value, dims=_dims(dims, name, value.ndim))
            for name, value in values.items()
        }
        current = {
            "campaign_x": pm.Data(
                "campaign_x", np.zeros(len(CAMPAIGN_COVARIATES)), dims="campaign_covariate"
            ),
            "campaign_z": pm.Data(
                "campaign_z", np.zeros(len(ENDGAME_COVARIATES)), dims="endgame_covariate"
            ),
            "campaign_dates": pm.Data("campaign_dates", calendar_slots(()), dims="calendar_slot"),
            "campaign_path_days": pm.Data(
                "campaign_path_days", np.zeros(PATH_SLOTS), dims="path_slot"
            ),
            "campaign_path_z": pm.Data(
                "campaign_path_z",
                np.zeros((PATH_SLOTS, len(ENDGAME_COVARIATES))),
                dims=("path_slot", "endgame_covariate"),
            ),
            "campaign_elapsed": pm.Data("campaign_elapsed", np.asarray(0.0)),
            "campaign_open": pm.Data("campaign_open", np.asarray(0.0)),
        }
        org = pm.Data("campaign_org", np.asarray(0, dtype="int64"))
        add_campaign_level(cfg, reference, current, org)
    return model


def _dims(dims: Mapping[str, Any], name: str, ndim: int) -> tuple[str, ...] | None:
    """A reference array's dims: as given (None: none), or campaign by calendar slot."""
    if name in dims:
        return dims[name]
    return ("campaign", "calendar_slot")[:ndim]


def _process_key(cfg: Mapping[str, Any], campaigns: Sequence[Campaign], orgs: Sequence[str]) -> str:
    """What ``compiled_reference_model`` keeps a compiled model of this process by."""
    return json.dumps(
        {
            "config": {k: cfg[k] for k in CONFIG_KEYS},
            # The reference class's values are the compiled model's default data.
            "campaigns": {k: v.tolist() for k, v in reference_values(cfg, campaigns, orgs).items()},
            "organisations": list(orgs),
        },
        sort_keys=True,
    )


def compile_in_background(
    cfg: Mapping[str, Any], campaigns: Sequence[Campaign], orgs: Sequence[str]
) -> subprocess.Popen | None:
    """Start compiling ``compiled_reference_model`` in a child process
    (``forecast.model.precompile``) unless this process holds it already. For a caller
    that found the caches cold: it compiles the per-ally block meanwhile, waits for the
    child (``precompile.wait``), and then loads this one from the on-disk caches."""
    if _process_key(cfg, campaigns, orgs) in _COMPILED:
        return None
    return precompile.start(
        compiled_reference_model,
        {k: cfg[k] for k in CONFIG_KEYS},
        list(campaigns),
        list(orgs),
    )


def compiled_reference_model(
    cfg: Mapping[str, Any], campaigns: Sequence[Campaign], orgs: Sequence[str]
) -> Any:
    """``reference_model`` compiled for nutpie, once per process for each configuration
    and reference class. Its ``pm.Data`` change with ``with_data``."""
    key = _process_key(cfg, campaigns, orgs)
    with _COMPILED_LOCK:
        if key not in _COMPILED:
            started = time.perf_counter()
            _COMPILED[key] = compile_for_nutpie(_built(key, cfg, campaigns, orgs))
            seconds = time.perf_counter() - started
            logger.info("compiled the campaign level for nutpie in %.1f s", seconds)
        return _COMPILED[key]


def parameter_names(
    cfg: Mapping[str, Any], campaigns: Sequence[Campaign], orgs: Sequence[str]
) -> list[str]:
    """The names of ``reference_model``'s free variables: kept from the model this
    process compiled, or from one built for the purpose (about half a second)."""
    key = _process_key(cfg, campaigns, orgs)
    with _COMPILED_LOCK:
        if key not in _PARAMETERS:
            _built(key, cfg, campaigns, orgs)
        return list(_PARAMETERS[key])


def _built(
    key: str, cfg: Mapping[str, Any], campaigns: Sequence[Campaign], orgs: Sequence[str]
) -> pm.Model:
    """``reference_model``, its free variables' names kept under ``key``."""
    model = reference_model(cfg, campaigns, orgs)
    _PARAMETERS[key] = [rv.name for rv in model.free_RVs]
    return model


def p_within(
    cfg: Mapping[str, Any],
    p_success: np.ndarray,
    location: np.ndarray,
    shape: np.ndarray,
    focal: np.ndarray,
    dates: Sequence[float],
    days: float,
) -> np.ndarray:
    """P(confirmed within ``days`` of emergence) per draw, for a campaign with holdouts.

    The endgame path alone: with holdouts at emergence the campaign is settled at its
    endgame, so ``p * F_E(days)`` (``dates``: its fixed dates, days from emergence).
    """
    reached = endgame.cdf(
        days, location, shape, focal, np.asarray(dates, float), *focal_window(cfg)
    )
    return p_success * reached


def focal_window(cfg: Mapping[str, Any]) -> tuple[float, float]:
    """Days of a fixed date's window before it and from it (``lead``, ``tail``)."""
    return float(cfg["focal_lead_days"]), float(cfg["focal_tail_days"])
