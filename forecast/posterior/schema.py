"""The forecast document's schema: msgspec Structs that the pipeline checks every document
against and the API publishes as its OpenAPI schema, so that the two cannot drift."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from forecast.jsonable import encode
from forecast.posterior.timing import TIMING_FORMS

TimingForm = Literal[TIMING_FORMS]  # type: ignore[valid-type]


class DeadlineOut(Struct, kw_only=True):
    key: str
    label: str
    date: dt.date
    p_confirmed: Annotated[float, Meta(ge=0, le=1)]
    interval: Annotated[list[float], Meta(description="94% posterior interval")]


class AllyForecast(Struct, kw_only=True):
    code: str
    name: str
    status: Literal["endorsed", "undecided", "opposed", "not_member"]
    p_endorse: float
    p_endorse_by: dict[str, float]
    p_last_holdout: float


class CurvePoint(Struct, kw_only=True):
    date: dt.date
    p_confirmed: float
    interval: list[float]


class DiagnosticsOut(Struct, kw_only=True, forbid_unknown_fields=True):
    """How the published fit converged (every quantity checked by the gate)."""

    passed: bool
    r_hat_max: Annotated[float, Meta(description="Greatest R-hat of the quantities checked")]
    ess_bulk_min: Annotated[float, Meta(description="Least bulk effective sample size")]
    ess_tail_min: Annotated[float, Meta(description="Least tail effective sample size")]
    divergences: int
    # Forecasts published before a fit that missed the gate was refitted have none: theirs
    # was the first attempt.
    attempts: Annotated[
        int, Meta(ge=1, description="Fits made: 2 when the first missed the gate and was refitted")
    ] = 1
    sampler: str
    sample_seconds: float
    chains: int
    draws: Annotated[int, Meta(description="Draws per chain")]
    # Forecasts published before this count was recorded have none.
    reference_campaigns: (
        Annotated[
            int,
            Meta(
                ge=0,
                description="Past campaigns the campaign level learned from: those of the "
                "reference class decided before the question's opening day",
            ),
        ]
        | None
    ) = None


class PivotalAlly(Struct, kw_only=True):
    """An undecided member: P(confirmed by the deadline) if it endorsed at the cut-off, and
    if it refused for good (a veto under unanimity: 0)."""

    code: str
    name: str
    status: Literal["undecided", "opposed"]
    if_endorses: Annotated[float, Meta(ge=0, le=1)]
    if_refuses: Annotated[float, Meta(ge=0, le=1)]
    # Documents published before these fields have none.
    change: (
        Annotated[
            float,
            Meta(
                ge=-1,
                le=1,
                description="if_endorses minus the deadline's forecast: what its endorsing moves",
            ),
        ]
        | None
    ) = None
    reasons: Annotated[
        list[str],
        Meta(description="Why it holds out, as on record (empty: no reason, only silence)"),
    ] = msgspec.field(default_factory=list)


class PivotalDeadline(Struct, kw_only=True):
    """One deadline's undecided members, the one whose endorsing would move the forecast
    most first.

    Only deadlines still ahead of the cut-off are listed: one that has passed is settled.
    """

    key: str
    allies: list[PivotalAlly]
    p_confirmed: (
        Annotated[float, Meta(ge=0, le=1, description="The deadline's forecast, for reference")]
        | None
    ) = None


class ForecastDocument(Struct, kw_only=True, forbid_unknown_fields=True):
    """The forecast document of a run (``by`` deadlines are keyed ``by_YYYY-MM-DD``)."""

    question: str
    candidate: str
    as_of: dt.date
    run_id: str
    published_at: dt.datetime
    evidence_count: int
    assume: dict[str, str]
    deadlines: list[DeadlineOut]
    p_ever_confirmed: Annotated[
        float, Meta(ge=0, le=1, description="P(the candidate is confirmed at all), posterior mean")
    ]
    p_ever_confirmed_interval: Annotated[
        list[float], Meta(description="94% posterior interval of p_ever_confirmed")
    ]
    allies: list[AllyForecast]
    curve: list[CurvePoint]
    timing_form: Annotated[
        TimingForm, Meta(description="The endorsement-timing distribution of the model fitted")
    ]
    diagnostics: DiagnosticsOut
    # Forecasts published before pivotal was computed have none.
    pivotal: list[PivotalDeadline] = msgspec.field(default_factory=list)


def checked(document: Mapping[str, Any]) -> Mapping[str, Any]:
    """The document unchanged, once it matches ``ForecastDocument`` field for field.

    Raises
    ------
    msgspec.ValidationError
        A field missing, of the wrong type or out of range, or one the schema does not
        declare (the message names it).
    """
    msgspec.json.decode(encode(document), type=ForecastDocument)
    return document
