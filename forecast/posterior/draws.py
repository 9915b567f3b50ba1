"""Posterior draws as stored and read without PyMC: ``PosteriorDraws`` and its ``.npz`` file."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from forecast.files import replacing

# A run's draws, in its folder (``PosteriorDraws.save``, read by ``PosteriorDraws.load``).
DRAWS_FILE = "draws.npz"
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
