"""Derived quantities from posterior draws, vectorised over draws (numpy only, no PyMC).

Per draw s and ally i, ``G_si(x)`` is the probability that the ally has endorsed on its
own by day ``x``, given everything observed at the cut-off ``c``:

    G(x) = w * 1[x >= t_report] + (1 - w) * pi * (F(x) - F(c))+ / (1 - pi + pi * S(c))

where ``w`` is the posterior probability that a reported endorsement is true (1 for a
public one, 0 with no report). The campaign level adds an endgame ``E`` (its CDF
``F_E``, conditional on no endgame by the cut-off) that brings every member in with
probability ``p_S``. With ``M = prod over members of G``, consent by day ``x`` is

    M(x) (1 - F_E(x)) + p_S F_E(x) + (1 - p_S) int_c^x M dF_E

(every member has decided on its own and no endgame has come; or the endgame has come
and succeeded; or it came and failed after every member had already consented), and
``P(confirmed by D)`` is that at ``x = D - lag``, computed exactly per draw (the integral
on a grid over ``F_E``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import inspect
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from forecast.digest import add_array
from forecast.files import replacing
from forecast.lru import Lru
from forecast.posterior import endgame, threads, timing

logger = logging.getLogger(__name__)

ASSUMPTIONS: tuple[str, ...] = ("endorsed", "opposed")
INTERVAL_PROB = 0.94
# Draws used for the last-holdout integral (a grid over time for every ally and draw).
# Against 12000 draws on a 400-point grid, the shipped posterior's values were within
# 0.014 on average (0.023 at most) with 500 draws, on 60 points as on 120: the draws, not
# the grid, set the error.
HOLDOUT_DRAWS = 500
HOLDOUT_HORIZON_DAYS = 1500.0
HOLDOUT_GRID = 60
# Cells of the integral over the endgame's day (its conditional CDF, 0 to 1). Against
# 400 cells, on the shipped posterior and the many-endorsements-on-one-day case, 24 cells
# moved no posterior mean (P(confirmed by a day), P(ever), any ally's P(endorse)) by more
# than 7e-5, a hundredth of its Monte Carlo error; 48 cells took twice as long.
ENDGAME_GRID = 24
# Draws per block of the endgame grid's computation (``_by_blocks``).
GRID_BLOCK = 256
# A focal date's window (days before it, days from it) for draws that do not give one:
# the model config's default (``focal_lead_days``, ``focal_tail_days``). Draws stored
# before focal points have no focal mass, so their window changes nothing.
STORED_FOCAL_WINDOW: tuple[float, float] = (7.0, 3.0)
# Per-draw arrays of PosteriorDraws (thinning keeps rows of these).
PER_DRAW: tuple[str, ...] = (
    "p_endorse",
    "location",
    "shape",
    "decision_lag",
    "p_success",
    "endgame_location",
    "endgame_shape",
    "endgame_focal",
    "endgame_base",
    "endgame_coef",
    "focal_base",
    "focal_holdouts",
    "endgame_clock",
)


@dataclass(frozen=True)
class PosteriorDraws:
    """Posterior draws of the per-ally parameters and the cut-off's observations.

    Arrays have shape (draw,) or (draw, ally); draws of all chains are stacked.
    """

    timing: str
    codes: tuple[str, ...]
    p_endorse: np.ndarray
    location: np.ndarray
    shape: np.ndarray
    decision_lag: np.ndarray
    member: np.ndarray
    status: tuple[str, ...]
    event: np.ndarray
    event_day: np.ndarray
    reliability: np.ndarray
    censor_day: float
    campaign_start: dt.date
    as_of: dt.date
    # The campaign level (forecast/model/campaign_level.py): per draw, P(the endgame brings every
    # holdout in), the diffuse endgame's log-normal location and shape (days from
    # emergence) and P(a fixed date binds) (``forecast.posterior.endgame``).
    p_success: np.ndarray
    endgame_location: np.ndarray
    endgame_shape: np.ndarray
    emerged_offset: float
    withdrawn: bool
    chains: int = 1
    # Focal points: per draw P(a fixed date binds) (None: no focal points), the fixed
    # dates on the endgame's clock and each date's window (days before, days from).
    endgame_focal: np.ndarray | None = None
    calendar_days: tuple[float, ...] = ()
    focal_window: tuple[float, float] = STORED_FOCAL_WINDOW
    # The campaign level's endgame as a function of the holdouts left (None in draws
    # stored before it: a what-if then leaves the endgame as fitted). Per draw the
    # location and the focal log-odds before the campaign's covariates, the covariates'
    # coefficients (``ENDGAME_COVARIATES`` order: log1p(holdouts), rival, none left) and the focal
    # slope on log1p(holdouts); per ally whether it holds out at the cut-off
    # (``forecast.data.inputs.holding_out``), and the rival covariate.
    endgame_base: np.ndarray | None = None
    endgame_coef: np.ndarray | None = None
    focal_base: np.ndarray | None = None
    focal_holdouts: np.ndarray | None = None
    holdout: np.ndarray | None = None
    # Per draw the endgame's clock at the cut-off in base days (the path of holdouts
    # since emergence, ``forecast.posterior.endgame``); None in draws stored before it
    # (the clock is then the calendar).
    endgame_clock: np.ndarray | None = None
    # Per ally its reasons on record to hold out at the cut-off (empty for the others;
    # ``forecast.data.inputs.holdout_reasons``), for the reader.
    reasons: tuple[tuple[str, ...], ...] = ()
    rival: float = 0.0
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.endgame_focal is None:
            object.__setattr__(self, "endgame_focal", np.zeros(self.p_endorse.shape[0]))

    @property
    def holdouts(self) -> int:
        """The members holding out at the cut-off (0 for draws stored without them)."""
        return 0 if self.holdout is None else int((self.holdout > 0).sum())

    @property
    def n_draws(self) -> int:
        return self.p_endorse.shape[0]

    def day(self, date: dt.date) -> float:
        """Days from the campaign start to the end of ``date``."""
        return float((date - self.campaign_start).days + 1)

    def date(self, day: float) -> dt.date:
        """The calendar date whose end is ``day``."""
        return self.campaign_start + dt.timedelta(days=int(np.ceil(day)) - 1)

    def save(self, path: Path | str) -> Path:
        """Write the draws as an ``.npz`` (read by the API without PyMC; uncompressed:
        posterior draws barely compress, and zlib took most of the write)."""
        meta = {
            "timing": self.timing,
            "codes": list(self.codes),
            "status": list(self.status),
            "censor_day": self.censor_day,
            "campaign_start": self.campaign_start.isoformat(),
            "as_of": self.as_of.isoformat(),
            "chains": self.chains,
            "emerged_offset": self.emerged_offset,
            "withdrawn": self.withdrawn,
            "calendar_days": list(self.calendar_days),
            "focal_window": list(self.focal_window),
            "rival": self.rival,
            "reasons": [list(r) for r in self.reasons],
        }
        optional = {
            name: getattr(self, name)
            for name in (
                "endgame_base",
                "endgame_coef",
                "focal_base",
                "focal_holdouts",
                "holdout",
                "endgame_clock",
            )
            if getattr(self, name) is not None
        }
        path = Path(path)
        # Written beside and renamed: the API reads this file while a run replaces it.
        with replacing(path) as partial, partial.open("wb") as handle:
            np.savez(
                handle,
                meta=np.array(json.dumps(meta)),
                p_endorse=self.p_endorse,
                location=self.location,
                shape=self.shape,
                decision_lag=self.decision_lag,
                member=self.member,
                event=self.event,
                event_day=self.event_day,
                reliability=self.reliability,
                p_success=self.p_success,
                endgame_location=self.endgame_location,
                endgame_shape=self.endgame_shape,
                endgame_focal=self.endgame_focal,
                **optional,
            )
        return path

    @classmethod
    def load(cls, path: Path | str) -> PosteriorDraws:
        with np.load(Path(path), allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            arrays = {k: data[k] for k in data.files if k != "meta"}
        return cls(
            timing=meta["timing"],
            codes=tuple(meta["codes"]),
            status=tuple(meta["status"]),
            censor_day=float(meta["censor_day"]),
            campaign_start=dt.date.fromisoformat(meta["campaign_start"]),
            as_of=dt.date.fromisoformat(meta["as_of"]),
            chains=int(meta.get("chains", 1)),
            emerged_offset=float(meta["emerged_offset"]),
            withdrawn=bool(meta["withdrawn"]),
            # Draws stored before focal points have none.
            calendar_days=tuple(float(d) for d in meta.get("calendar_days", ())),
            focal_window=tuple(meta.get("focal_window", STORED_FOCAL_WINDOW)),
            rival=float(meta.get("rival", 0.0)),
            reasons=tuple(tuple(r) for r in meta.get("reasons", ())),
            **arrays,
        )


def _memoised(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Keep a derived quantity in the draws' cache, by its arguments.

    The gate and the forecast document ask for the same quantities of one fit; the second
    asks the cache. The kept array is read-only, so no caller can change another's value.
    """

    def key(value) -> tuple:
        if value is None or isinstance(value, Mapping):
            return tuple(sorted((value or {}).items()))
        array = np.asarray(value, dtype=float)
        return (array.shape, array.tobytes())

    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def cached(draws: PosteriorDraws, *args, **kwargs) -> np.ndarray:
        bound = signature.bind(draws, *args, **kwargs)
        bound.apply_defaults()
        arguments = list(bound.arguments.items())[1:]  # after the draws
        name = (fn.__name__, *((k, key(v)) for k, v in arguments))
        if name not in draws._cache:
            value = fn(draws, *args, **kwargs)
            value.flags.writeable = False
            draws._cache[name] = value
        return draws._cache[name]

    return cached


def _validate_assume(draws: PosteriorDraws, assume: Mapping[str, str] | None) -> dict[str, str]:
    assume = dict(assume or {})
    for code, outcome in assume.items():
        if code not in draws.codes:
            raise KeyError(f"unknown ally {code!r}; valid: {', '.join(sorted(draws.codes))}")
        if outcome not in ASSUMPTIONS:
            raise ValueError(f"unknown outcome {outcome!r}; valid: {', '.join(ASSUMPTIONS)}")
    return assume


def _state(draws: PosteriorDraws) -> dict[str, np.ndarray]:
    """Per draw and ally: w, the survival term, and F(c) (cached on the draws)."""
    if "state" in draws._cache:
        return draws._cache["state"]
    pi = draws.p_endorse
    shape = draws.shape[:, None]
    c = draws.censor_day
    f_c = timing.cdf(draws.timing, np.asarray(c), draws.location, shape)
    surv = pi * (1.0 - f_c)
    base = (1.0 - pi) + surv  # P(no endorsement by c)
    # Posterior probability that a report of support is true (left-censored reports).
    t = np.maximum(draws.event_day, 1e-6)
    f_t = timing.cdf(draws.timing, t[None, :], draws.location, shape)
    r = draws.reliability[None, :]
    true_mass = r * pi * f_t
    denominator = true_mass + (1.0 - r) * base
    w = np.divide(true_mass, denominator, out=np.zeros_like(true_mass), where=denominator > 0)
    w = np.where(draws.event[None, :] > 0, w, 0.0)
    w = np.where((draws.event[None, :] > 0) & (r >= 1.0), 1.0, w)
    # After the cut-off every report is in the past: G(x) = w + (1 - w) * pi * (F(x) -
    # F(c)) / base, linear in F(x) with these coefficients.
    slope = (1.0 - w) * pi / base
    state = {"w": w, "base": base, "f_c": f_c, "slope": slope, "offset": w - slope * f_c}
    draws._cache["state"] = state
    return state


def own_endorsed_by(
    draws: PosteriorDraws, day: np.ndarray, assume: Mapping[str, str] | None = None
) -> np.ndarray:
    """P(ally i has decided to endorse by ``day`` on its own), per draw, before any endgame.

    Parameters
    ----------
    day
        Days from the campaign start, shape (draw,) or (draw, k) for k days per draw.

    Returns
    -------
    numpy.ndarray
        Shape (draw, ally) or (draw, ally, k).
    """
    assume = _validate_assume(draws, assume)
    st = _state(draws)
    day = np.asarray(day, dtype=float)
    grid = day.ndim == 2
    x = day[:, None, :] if grid else day[:, None]  # (S, 1[, K])

    def per_ally(a: np.ndarray) -> np.ndarray:
        return a[:, :, None] if grid else a

    shape = draws.shape[:, None, None] if grid else draws.shape[:, None]
    f_x = timing.cdf(draws.timing, x, per_ally(draws.location), shape)
    after = per_ally(st["offset"]) + per_ally(st["slope"]) * f_x
    if (day > draws.censor_day).all():  # the endgame's grid: every day after the cut-off
        value = after
    else:
        reported = x >= per_ally(draws.event_day[None, :])
        value = np.where(x > draws.censor_day, after, per_ally(st["w"]) * reported)
    for code, outcome in assume.items():
        i = draws.codes.index(code)
        if outcome == "opposed":
            value[:, i] = 0.0
        elif draws.status[i] != "endorsed":
            # Endorsed by the cut-off at the latest; a report dated earlier still counts
            # before it (setting 0 there would let "endorsed" lower a probability).
            value[:, i] = np.where(x[:, 0] >= draws.censor_day, 1.0, value[:, i])
    return value


def reported_by(
    draws: PosteriorDraws, day: float, assume: Mapping[str, str] | None = None
) -> np.ndarray:
    """Per ally, shape (ally,): endorsed by ``day``, a day on or before the cut-off, as reported.

    A day that has passed is settled by the reports, not forecast: 1 for a public
    endorsement (status ``endorsed``) dated on or before ``day``, 0 otherwise, however
    likely the model finds it that an ally decided unreported or that a rumour was true.
    An ally assumed to refuse is 0; one assumed to endorse counts from the cut-off on (as
    in ``own_endorsed_by``).

    Raises
    ------
    ValueError
        If ``day`` is after the cut-off (that is a forecast: ``endorsed_by``).
    """
    assume = _validate_assume(draws, assume)
    if day > draws.censor_day:
        raise ValueError(f"day {day} is after the cut-off (day {draws.censor_day})")
    public = np.array([status == "endorsed" for status in draws.status])
    value = (public & (draws.event > 0) & (draws.event_day <= day)).astype(float)
    for code, outcome in assume.items():
        i = draws.codes.index(code)
        if outcome == "opposed":
            value[i] = 0.0
        elif day >= draws.censor_day:
            value[i] = 1.0
    return value


def success(draws: PosteriorDraws, assume: Mapping[str, str] | None = None) -> np.ndarray:
    """P(the endgame brings every holdout in) per draw, shape (draw,).

    0 once the candidate is withdrawn, or if a member is assumed to refuse for good (a
    standing refusal is a veto under unanimity).
    """
    assume = _validate_assume(draws, assume)
    if draws.withdrawn or (_opposed(draws, assume) & (draws.member > 0)).any():
        return np.zeros(draws.n_draws)
    return draws.p_success


def _under(draws: PosteriorDraws, assume: Mapping[str, str]) -> PosteriorDraws:
    """The draws with the campaign level's endgame for the holdouts left under ``assume``:
    those at the cut-off less each holdout assumed to endorse (an assumed refusal is a
    veto, ``success``). The same draws when that number is unchanged, or the draws carry
    no coefficients.

    The endgame's location and P(a fixed date binds) depend on the holdouts left
    (``forecast.model.campaign_level``: ``log1p(holdouts)`` is a covariate of both, and
    "none left" of the location), so a holdout assumed to endorse shortens the endgame
    as a fit with its endorsement does; the clock's shift follows the location
    (``_clock_shift``).
    The derived draws are kept in the draws' cache, one per number of holdouts left.
    """
    if draws.endgame_base is None or draws.holdout is None:
        return draws
    endorsing = [draws.codes.index(c) for c, outcome in assume.items() if outcome == "endorsed"]
    left = draws.holdouts - int((draws.holdout[endorsing] > 0).sum())
    if left == draws.holdouts:
        return draws
    key = ("holdouts_left", left)
    if key not in draws._cache:
        z = endgame.covariates(left, draws.rival)
        location = draws.endgame_base + draws.endgame_coef @ z
        focal = 1.0 / (1.0 + np.exp(-(draws.focal_base + draws.focal_holdouts * z[0])))
        derived = dataclasses.replace(
            draws, endgame_location=location, endgame_focal=focal, _cache={}
        )
        derived._cache["state"] = _state(draws)  # the allies' own state is unchanged
        draws._cache[key] = derived
    return draws._cache[key]


def _opposed(draws: PosteriorDraws, assume: Mapping[str, str]) -> np.ndarray:
    """Per ally, shape (ally,): assumed to refuse for good.

    Only a member's refusal is a veto; a non-member assumed opposed still never endorses.
    """
    return np.array([assume.get(code) == "opposed" for code in draws.codes], dtype=bool)


def endgame_cdf(draws: PosteriorDraws, day: np.ndarray) -> np.ndarray:
    """P(the endgame has come by ``day`` | it had not by the cut-off), per draw.

    ``day`` has shape (draw,) or (draw, k); the result has the same shape.
    """
    day = np.asarray(day, dtype=float)
    if draws.withdrawn:  # the campaign ended at the cut-off
        return np.where(day > draws.censor_day, 1.0, 0.0)
    extra = (slice(None),) + (None,) * (day.ndim - 1)
    start = _endgame_start(draws)[extra]
    f_x = endgame.cdf(day - draws.emerged_offset, *_endgame_parameters(draws, extra))
    value = np.clip((f_x - start) / (1.0 - start), 0.0, 1.0)
    return np.where(day > draws.censor_day, value, 0.0)


def _endgame_parameters(draws: PosteriorDraws, extra: tuple = (slice(None),)) -> tuple:
    """The endgame's per-draw parameters (indexed by ``extra`` to broadcast), its
    calendar and the clock's shift, in the argument order of ``forecast.posterior.endgame``."""
    return (
        draws.endgame_location[extra],
        draws.endgame_shape[extra],
        draws.endgame_focal[extra],
        np.asarray(draws.calendar_days, dtype=float),
        *draws.focal_window,
        _clock_shift(draws)[extra],
    )


def _clock_shift(draws: PosteriorDraws) -> np.ndarray:
    """Per draw, the shift that carries the clock's past into the endgame at the
    holdouts left (``endgame.clock_shift``); 0 for draws stored without a clock."""
    if draws.endgame_clock is None or draws.endgame_base is None:
        return np.zeros(draws.n_draws)
    elapsed = draws.censor_day - draws.emerged_offset
    return endgame.clock_shift(
        draws.endgame_clock, draws.endgame_location, draws.endgame_base, elapsed
    )


def _endgame_start(draws: PosteriorDraws) -> np.ndarray:
    """F_E at the cut-off per draw: the endgame had not come by then."""
    elapsed = np.full(draws.n_draws, draws.censor_day - draws.emerged_offset)
    start = endgame.cdf(elapsed, *_endgame_parameters(draws))
    return np.minimum(start, 1.0 - 1e-12)


def _endgame_grid(draws: PosteriorDraws, assume: Mapping[str, str]) -> dict[str, np.ndarray]:
    """Cumulative integrals over the endgame's day, per draw (cached per ``assume``).

    With ``u`` the endgame's conditional CDF and ``Q(u)`` its day, ``own[s, i, k]`` is
    ``int_0^(k/K) G_si(Q(u)) du`` (midpoint rule on ``ENDGAME_GRID`` cells) and ``all``
    the same for ``M = prod over members of G``.
    """
    key = ("endgame", tuple(sorted(assume.items())))
    if key in draws._cache:
        return draws._cache[key]
    widths = np.diff(_grid_u(np.arange(ENDGAME_GRID + 1) / ENDGAME_GRID))
    days = _endgame_days(draws)
    members = draws.member > 0
    shape = (draws.n_draws, len(draws.codes), ENDGAME_GRID)
    own, integral = np.empty(shape), np.empty((*shape[:2], ENDGAME_GRID + 1))
    consent = np.empty((draws.n_draws, ENDGAME_GRID))

    def block(rows: slice) -> None:
        own[rows] = own_endorsed_by(_rows(draws, rows), days[rows], assume)
        consent[rows] = np.prod(own[rows][:, members, :], axis=1)
        integral[rows] = _cumulative(own[rows], widths)

    _by_blocks(block, draws.n_draws)
    # "g" keeps each ally's G on the grid for the products over the other members
    # (``pivotal``); it is the array "own" is integrated from, not a copy.
    grid = {
        "own": integral,
        "all": _cumulative(consent, widths),
        "g": own,
        "widths": widths,
    }
    draws._cache[key] = grid
    return grid


# The last grids of endgame days computed in this process, by a digest of what each is
# made of (``_endgame_days``): a fit's and its thinned draws' (``last_holdout``).
ENDGAME_DAYS_KEPT = 2
_ENDGAME_DAYS: Lru[str, np.ndarray] = Lru(ENDGAME_DAYS_KEPT)


def _endgame_days(draws: PosteriorDraws) -> np.ndarray:
    """The endgame's day at the grid's cells, per draw, shape (draw, ``ENDGAME_GRID``).

    It depends only on the campaign level's draws, the calendar and the cut-off, not on
    what is assumed of the allies: every grid of one fit shares it, and so does the next
    fit when it reused the campaign level's draws (``sampling.CampaignFits``). The
    quantiles (Newton's method per draw and cell) are a good part of a rerun, so the last
    grids are kept by a digest of their inputs; the same inputs give the same array.
    """
    parts = (
        draws.endgame_location,
        draws.endgame_shape,
        draws.endgame_focal,
        _clock_shift(draws),
        np.asarray(draws.calendar_days, dtype=float),
        np.asarray([*draws.focal_window, draws.emerged_offset, draws.censor_day, ENDGAME_GRID]),
    )
    digest = hashlib.sha256()
    for part in parts:
        add_array(digest, np.asarray(part, dtype=float))

    def days() -> np.ndarray:
        u = _grid_u((np.arange(ENDGAME_GRID) + 0.5) / ENDGAME_GRID)
        start = _endgame_start(draws)[:, None]
        quantile = endgame.quantile(
            start + u[None, :] * (1.0 - start), *_endgame_parameters(draws, (slice(None), None))
        )
        days = np.maximum(draws.emerged_offset + quantile, np.nextafter(draws.censor_day, np.inf))
        days.flags.writeable = False
        return days

    return _ENDGAME_DAYS.get_or(digest.hexdigest(), days)


def _by_blocks(block: Callable[[slice], None], n: int) -> None:
    """Call ``block`` on consecutive slices of ``n`` draws, on as many threads as cores.

    Each block writes its own rows of preallocated arrays. Blocks of ``GRID_BLOCK`` draws
    keep their (draw, ally, cell) temporaries in the CPU's cache (on all draws at once
    the grid took half again as long), and numpy releases the GIL in its loops.
    """
    slices = [slice(lo, min(lo + GRID_BLOCK, n)) for lo in range(0, n, GRID_BLOCK)]
    threads.map_parts(block, slices)


def _rows(draws: PosteriorDraws, rows: slice | np.ndarray) -> PosteriorDraws:
    """The draws of ``rows`` (a slice or indices). Their cache holds the rows of the
    per-draw state (``_state``, computed once on all draws) and nothing else."""
    fields = {k: getattr(draws, k) for k in draws.__dataclass_fields__ if k != "_cache"}
    per_draw = {k: fields[k][rows] for k in PER_DRAW if fields[k] is not None}
    part = PosteriorDraws(**{**fields, **per_draw})
    part._cache["state"] = {k: v[rows] for k, v in _state(draws).items()}
    return part


def _cumulative(values: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Cumulative midpoint sums over the grid's last axis, with a leading 0 (K+1 points)."""
    steps = values * widths
    zero = np.zeros((*steps.shape[:-1], 1))
    return np.concatenate([zero, np.cumsum(steps, axis=-1)], axis=-1)


def _others_product(values: np.ndarray) -> np.ndarray:
    """Per ally (axis 1), the product of the other allies' values: prefix and suffix
    products, so no division (a value of 0 stays exact)."""
    ones = np.ones_like(values[:, :1])
    before = np.cumprod(np.concatenate([ones, values[:, :-1]], axis=1), axis=1)
    after = np.cumprod(np.concatenate([ones, values[:, :0:-1]], axis=1), axis=1)[:, ::-1]
    return before * after


def _grid_u(v: np.ndarray) -> np.ndarray:
    """The grid's cells are even in ``v`` and fine near ``u = 1`` (the endgame's late tail,
    which reaches to infinity: a last cell of width 1/K there was too coarse)."""
    return 1.0 - (1.0 - v) ** 2


def _integral_to(cumulative: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``int_0^u`` from a cumulative grid (last axis K+1), linear within a cell.

    ``cumulative`` is (S, K+1) or (S, N, K+1); ``u`` is (S,) or (S, k) and the result
    (S[, N][, k]).
    """
    cells = cumulative.shape[-1] - 1
    u = np.clip(u, 0.0, 1.0)
    position = (1.0 - np.sqrt(1.0 - u)) * cells  # the inverse of _grid_u, in cells
    index = np.minimum(np.floor(position).astype(int), cells - 1)
    low_u = _grid_u(index / cells)
    fraction = (u - low_u) / (_grid_u((index + 1) / cells) - low_u)
    if cumulative.ndim == 3:  # per ally: broadcast u over the ally axis
        index, fraction = index[:, None, ...], fraction[:, None, ...]
        rows = np.arange(cumulative.shape[0])[:, None, None]
        allies = np.arange(cumulative.shape[1])[None, :, None]
        if u.ndim == 1:
            index, fraction = index[..., None], fraction[..., None]
        low = cumulative[rows, allies, index]
        high = cumulative[rows, allies, index + 1]
        value = low + fraction * (high - low)
        return value[..., 0] if u.ndim == 1 else value
    rows = np.arange(cumulative.shape[0]).reshape(-1, *([1] * (u.ndim - 1)))
    low, high = cumulative[rows, index], cumulative[rows, index + 1]
    return low + fraction * (high - low)


@_memoised
def endorsed_by(
    draws: PosteriorDraws, day: np.ndarray, assume: Mapping[str, str] | None = None
) -> np.ndarray:
    """P(ally i has endorsed by ``day``) per draw, on its own or in the endgame.

    ``G_i(x) (1 - F_E(x)) + p_S F_E(x) + (1 - p_S) int_c^x G_i dF_E``: before the endgame
    the ally decides on its own; at the endgame it comes in if the campaign succeeds, and
    otherwise only if it had decided before (the candidate is withdrawn).

    Parameters
    ----------
    day
        Days from the campaign start, shape (draw,) or (draw, k).

    Returns
    -------
    numpy.ndarray
        Shape (draw, ally) or (draw, ally, k).
    """
    assume = _validate_assume(draws, assume)
    draws = _under(draws, assume)
    day = np.asarray(day, dtype=float)
    if draws.withdrawn:
        return own_endorsed_by(draws, np.minimum(day, draws.censor_day), assume)
    own = own_endorsed_by(draws, day, assume)
    u = endgame_cdf(draws, day)
    integral = _integral_to(_endgame_grid(draws, assume)["own"], u)
    p_s = success(draws, assume)
    u, p_s = u[:, None, ...], p_s.reshape(-1, *([1] * (own.ndim - 1)))
    value = own * (1.0 - u) + p_s * u + (1.0 - p_s) * integral
    value[:, _opposed(draws, assume)] = 0.0
    return value


@_memoised
def endorse_ever(draws: PosteriorDraws, assume: Mapping[str, str] | None = None) -> np.ndarray:
    """P(ally eventually endorses) per draw, shape (draw, ally)."""
    assume = _validate_assume(draws, assume)
    draws = _under(draws, assume)
    if draws.withdrawn:
        return own_endorsed_by(draws, np.full(draws.n_draws, draws.censor_day), assume)
    p_s = success(draws, assume)[:, None]
    value = p_s + (1.0 - p_s) * _endgame_grid(draws, assume)["own"][:, :, -1]
    value[:, _opposed(draws, assume)] = 0.0
    return value


@_memoised
def confirmed_by(
    draws: PosteriorDraws, day: float | np.ndarray, assume: Mapping[str, str] | None = None
) -> np.ndarray:
    """P(confirmed by the end of ``day``) per draw.

    The candidate is confirmed ``lag`` days after the last member decides on its own,
    or at the endgame if that is earlier and the campaign succeeds (the reference class
    dates an endgame by its formal decision, so no lag is added to it). With ``M`` the
    product of the members' ``G``, ``y = day - lag`` and ``F_E`` the endgame's CDF:
    ``p_S (1 - (1 - M(y)) (1 - F_E(day))) + (1 - p_S) (M(y) (1 - F_E(y)) + int_c^y M
    dF_E)`` (the campaign succeeds, or it fails after every member had consented).

    ``day`` is a scalar (result shape (draw,)) or a 1-d array of k days (shape (draw, k)).
    """
    assume = _validate_assume(draws, assume)
    draws = _under(draws, assume)
    days = np.atleast_1d(np.asarray(day, dtype=float))
    x = days[None, :] - draws.decision_lag[:, None]  # (S, K)
    members = draws.member > 0
    if draws.withdrawn:
        x = np.minimum(x, draws.censor_day)
    own = np.empty(x.shape)

    def block(rows: slice) -> None:
        g = own_endorsed_by(_rows(draws, rows), x[rows], assume)
        own[rows] = np.prod(g[:, members, :], axis=1)

    _by_blocks(block, draws.n_draws)
    if draws.withdrawn:
        value = own
    else:
        u = endgame_cdf(draws, x)
        integral = _integral_to(_endgame_grid(draws, assume)["all"], u)
        p_s = success(draws, assume)[:, None]
        value = _consent(p_s, own, u, endgame_cdf(draws, np.broadcast_to(days, x.shape)), integral)
    return value[:, 0] if np.ndim(day) == 0 else value


def _consent(
    p_s: np.ndarray, own: np.ndarray, u: np.ndarray, u_day: np.ndarray, integral: np.ndarray
) -> np.ndarray:
    """P(confirmed by a day) from its parts: ``own`` = M(day - lag), ``u`` = F_E(day - lag),
    ``u_day`` = F_E(day) and ``integral`` = int_c^(day - lag) M dF_E (``confirmed_by``)."""
    succeeded = 1.0 - (1.0 - own) * (1.0 - u_day)
    return p_s * succeeded + (1.0 - p_s) * (own * (1.0 - u) + integral)


@_memoised
def confirmed_ever(draws: PosteriorDraws, assume: Mapping[str, str] | None = None) -> np.ndarray:
    """P(the candidate is ever confirmed) per draw, shape (draw,)."""
    assume = _validate_assume(draws, assume)
    draws = _under(draws, assume)
    members = draws.member > 0
    if draws.withdrawn:
        at_cut_off = own_endorsed_by(draws, np.full(draws.n_draws, draws.censor_day), assume)
        return np.prod(at_cut_off[:, members], axis=1)
    p_s = success(draws, assume)
    return p_s + (1.0 - p_s) * _endgame_grid(draws, assume)["all"][:, -1]


def pivotal(
    draws: PosteriorDraws, day: float | np.ndarray, assume: Mapping[str, str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """P(confirmed by each day) if each ally endorsed at the cut-off, and if it refused.

    Equal, ally by ally, to ``confirmed_by(draws, day, assume | {code: outcome})``, but
    computed for every ally at once from the endgame grid ``confirmed_by`` already uses:
    with ally ``i`` endorsed, ``G_i`` is 1 from the cut-off on, so the members' product
    becomes ``M_{-i}``, the product over the other members (prefix and suffix products
    along the ally axis), on the grid and at each day. A member's standing refusal is a
    veto (0); a non-member's decision leaves confirmation as it is. A holdout's
    endorsement also leaves one holdout fewer, and its value is computed on that state's
    endgame (``_under``).

    Parameters
    ----------
    day
        Days from the campaign start: a scalar or a 1-d array of k days.
    assume
        What-if outcomes already assumed (an ally named here keeps its assumption's value).

    Returns
    -------
    (if_endorses, if_refuses)
        Each of shape (draw, ally, k).
    """
    assume = _validate_assume(draws, assume)
    days = np.atleast_1d(np.asarray(day, dtype=float))
    base = confirmed_by(draws, days, assume)  # (S, k)
    n_allies = len(draws.codes)
    members = draws.member > 0
    if_endorses = np.repeat(base[:, None, :], n_allies, axis=1)
    if_refuses = if_endorses.copy()
    if_refuses[:, members, :] = 0.0
    changes = members & np.array(
        [
            code not in assume and status != "endorsed"
            for code, status in zip(draws.codes, draws.status, strict=True)
        ]
    )
    if not changes.any():
        return if_endorses, if_refuses
    # The members whose decision is open, and every other member.
    open_, rest = np.flatnonzero(changes), np.flatnonzero(members & ~changes)
    value = _if_endorses(_under(draws, assume), days, assume, open_, rest)
    # A holdout's endorsement also leaves one holdout fewer: the endgame of that state
    # (the same for every holdout, so one more pass).
    holding = open_[draws.holdout[open_] > 0] if draws.holdout is not None else open_[:0]
    if holding.size:
        fewer = _under(draws, {**assume, draws.codes[holding[0]]: "endorsed"})
        if fewer is not _under(draws, assume):
            others = np.setdiff1d(np.flatnonzero(members), holding)
            value[:, np.isin(open_, holding)] = _if_endorses(fewer, days, assume, holding, others)
    if_endorses[:, open_, :] = value
    return if_endorses, if_refuses


def _if_endorses(
    draws: PosteriorDraws,
    days: np.ndarray,
    assume: Mapping[str, str],
    open_: np.ndarray,
    rest: np.ndarray,
) -> np.ndarray:
    """P(confirmed by each day) if each member of ``open_`` endorsed at the cut-off,
    shape (draw, open, k): the members' product becomes the product over the others
    (``rest`` and the other open members) on the endgame's grid and at each day."""
    members = draws.member > 0

    def others(g: np.ndarray) -> np.ndarray:
        """(S, open, ...): per open member, the product of G over the other members."""
        return _others_product(g[:, open_]) * np.prod(g[:, rest], axis=1, keepdims=True)

    x = days[None, :] - draws.decision_lag[:, None]  # (S, k)
    if draws.withdrawn:
        x = np.minimum(x, draws.censor_day)
    g = own_endorsed_by(draws, x, assume)  # (S, N, k)
    # Endorsed from the cut-off on (``own_endorsed_by``'s rule for an assumed endorsement).
    own = np.where(
        x[:, None, :] >= draws.censor_day,
        others(g),
        np.prod(g[:, members], axis=1, keepdims=True),
    )
    if draws.withdrawn:
        return own
    u = endgame_cdf(draws, x)
    grid = _endgame_grid(draws, assume)
    integral = np.empty((draws.n_draws, open_.size, days.size))  # (S, open, k)

    def block(rows: slice) -> None:
        consent = _cumulative(others(grid["g"][rows]), grid["widths"])
        integral[rows] = _integral_to(consent, u[rows])

    _by_blocks(block, draws.n_draws)
    p_s = success(draws, assume)[:, None, None]
    u_day = endgame_cdf(draws, np.broadcast_to(days, x.shape))[:, None, :]
    return _consent(p_s, own, u[:, None, :], u_day, integral)


def thinned(draws: PosteriorDraws, n: int, seed: int = 0) -> PosteriorDraws:
    """A random subset of ``n`` draws (all of them if there are fewer), for grid integrals."""
    if draws.n_draws <= n:
        return draws
    keep = np.sort(np.random.default_rng(seed).choice(draws.n_draws, n, replace=False))
    return _rows(draws, keep)


def last_holdout(
    draws: PosteriorDraws, assume: Mapping[str, str] | None = None, seed: int = 0
) -> np.ndarray:
    """P(ally i is the last member to endorse | every member endorses), shape (ally,).

    Integrates ``dG_i(x) * prod_{j != i} G_j(x)`` over a time grid after the cut-off on
    a thinned subset of draws; allies that have already endorsed are never last.
    """
    thin = thinned(draws, HOLDOUT_DRAWS, seed)
    c = draws.censor_day
    offsets = np.concatenate([[0.0], np.geomspace(0.5, HOLDOUT_HORIZON_DAYS, HOLDOUT_GRID)])
    grid = np.broadcast_to(c + offsets, (thin.n_draws, offsets.size))
    members = np.flatnonzero(draws.member > 0)
    last = np.empty((thin.n_draws, members.size))  # (S, M)

    def block(rows: slice) -> None:
        g = own_endorsed_by(_rows(thin, rows), grid[rows], assume)[:, members, :]
        # G is a CDF in time, so its steps are >= 0; rounding in ``offset + slope * F``
        # can leave -1e-17 where F has flattened out, which would make a chance negative.
        step = np.maximum(np.diff(g, axis=2), 0.0)  # (S, M, K-1)
        # The others' G at each step's midpoint: with the end point the sum over allies
        # overshot 1 by up to 10% for steep timing curves; the midpoint keeps it within
        # 0.1%.
        at = 0.5 * (g[:, :, 1:] + g[:, :, :-1])
        last[rows] = (step * _others_product(at)).sum(axis=2)

    _by_blocks(block, thin.n_draws)
    out = np.zeros(len(draws.codes))
    # Normalised by the summed chances of being last, i.e. P(every member endorses within
    # the horizon) as the same grid sees it: the grid's error then cancels in the ratio.
    total = last.sum()
    if total > 0:
        out[members] = last.sum(axis=0) / total
    return out


def interval(values: np.ndarray, prob: float = INTERVAL_PROB) -> tuple[float, float]:
    """Equal-tailed posterior interval over draws (axis 0)."""
    tail = (1.0 - prob) / 2.0
    lo, hi = np.quantile(values, [tail, 1.0 - tail], axis=0)
    return float(lo), float(hi)
