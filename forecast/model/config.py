"""The model's priors and sampler settings, each prior with the reason for its scale.

``ConfirmationModel`` merges a user's overrides over these (``ConfirmationModel.config``);
docs/model.md gives the sources and the variants tried.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from forecast.posterior.timing import TIMING_FORMS
from forecast.source import source_digest

# The samplers a fit can use: nutpie (compiled once) or PyMC's own ``pm.sample``.
SAMPLERS: tuple[str, ...] = ("nutpie", "pymc")

DEFAULT_MODEL_CONFIG: dict[str, Any] = {
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
    # A public objection by a member that can block (any member under unanimity) is
    # the front-runner's clearest threat, but in the enlarged class the objections of
    # the emergence day were mostly overcome (4 of 5 such front-runners confirmed) while
    # the failures met objections raised later: no direction is assumed for it either.
    "success_coef_mu": {
        "all_largest_backed": 0.0,
        "heavyweight_objection": 0.0,
        "rival_candidacy": 0.0,
        "blocking_objection": 0.0,
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
    # The diffuse endgame's covariates (log-days per unit). The holdout group's size, as
    # log1p(count): if each holdout gave way on its own after a log-normal time with the
    # spread of past endgames (about 0.9), the last of h would come later by about
    # 0.9 * z(0.5 ** (1 / h)): 0.5 log-days from one holdout to two, 1.35 from one to
    # ten, about 0.8 per unit of log1p. Holdouts that bargain together give way sooner
    # than that, so 0.5 +- 0.25: positive, and at most about the independent bound. A
    # standing rival candidacy "would probably just prolong the process" (the seed
    # article): 0.3 +- 0.3, from none to about a factor 1.8.
    # No member holding out: what remains is the formal decision. NATO's Council
    # formalised past appointments the same day to a few days after consensus (the
    # decision lag's sources), so the diffuse endgame is shorter, by a factor exp(-1) =
    # 0.37 at the prior mean and from none to 0.14 within two sds; a campaign that waits
    # for a fixed date (a term's end, a summit) does so through the focal points.
    "endgame_coef_mu": {"holdouts": 0.5, "rival_candidacy": 0.3, "no_holdouts": -1.0},
    "endgame_coef_sd": {"holdouts": 0.25, "rival_candidacy": 0.3, "no_holdouts": 0.5},
    # Focal points: log-odds that a fixed date of the calendar (a meeting, the
    # incumbent's term end) settles the campaign, if it has not been settled before.
    # Centred on even odds with 0.12-0.88 plausible: accounts of past selections say
    # deals are struck at meetings, but how often is for the reference class to say.
    "focal_intercept_mu": 0.0,
    "focal_intercept_sd": 1.0,
    # More holdouts to satisfy at one meeting make it less likely to bind (per unit of
    # log1p(holdouts)): from one holdout to ten lowers the log-odds by about 0.85.
    "focal_holdouts_mu": -0.5,
    "focal_holdouts_sd": 0.5,
    # Organisations differ in how binding their meetings are: sd 0.5 logit, fixed.
    "org_focal_scale": 0.5,
    # A binding date settles the campaign on a day in the week up to its first day or in
    # the three days after (multi-day meetings, and formal decisions recorded up to two
    # days after a meeting opened). The tail was chosen among 1 and 3 days (and a lead of
    # 3) by leave-one-out timing scores on the reference class (docs/model.md).
    "focal_lead_days": 7.0,
    "focal_tail_days": 3.0,
}
DEFAULT_SAMPLER_CONFIG: dict[str, Any] = {
    "sampler": "nutpie",
    "chains": 4,
    "tune": 150,
    "draws": 700,
    "target_accept": 0.9,
}


def merged(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``DEFAULT_MODEL_CONFIG`` with ``overrides`` merged over it."""
    return {**DEFAULT_MODEL_CONFIG, **(overrides or {})}


def validated(
    model_config: Mapping[str, Any] | None, sampler_config: Mapping[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The model and sampler configs merged over the defaults, checked.

    Raises
    ------
    ValueError
        An unknown model or sampler config key, timing form or sampler, naming the
        valid ones (a misspelt key would otherwise be ignored and recorded as used).
    """
    for name, given, defaults in (
        ("model_config", model_config, DEFAULT_MODEL_CONFIG),
        ("sampler_config", sampler_config, DEFAULT_SAMPLER_CONFIG),
    ):
        unknown = set(given or {}) - set(defaults)
        if unknown:
            raise ValueError(
                f"unknown {name} keys {sorted(unknown)}; valid: {', '.join(sorted(defaults))}"
            )
    model = merged(model_config)
    sampler = {**DEFAULT_SAMPLER_CONFIG, **(sampler_config or {})}
    if model["timing"] not in TIMING_FORMS:
        raise ValueError(
            f"model_config['timing'] {model['timing']!r} is not a timing form; "
            f"valid: {', '.join(TIMING_FORMS)}"
        )
    if sampler["sampler"] not in SAMPLERS:
        raise ValueError(
            f"sampler {sampler['sampler']!r} is not known; valid: {', '.join(SAMPLERS)}"
        )
    return model, sampler


def config_hash(model_config: Mapping[str, Any] | None = None, code: str | None = None) -> str:
    """Fingerprint of a model configuration (merged over the defaults) and of the code
    that fits it (``code``, default this code's ``source.source_digest``): what a stored
    fit or check was made with. A change to the model's code changes it, with no version
    string to remember."""
    model, _ = validated(model_config, None)
    payload = json.dumps({"model": model, "source": code or source_digest()}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
