"""Response bodies of GET /questions (msgspec structs; the OpenAPI schema)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Literal

from msgspec import Meta, Struct

from forecast.posterior.schema import CurvePoint, DeadlineOut

logger = logging.getLogger(__name__)


class Headline(Struct, kw_only=True):
    """A question's live forecast in brief (its full document: ``links.forecast``)."""

    run_id: str
    as_of: dt.date
    published_at: dt.datetime
    deadlines: list[DeadlineOut]
    p_ever_confirmed: float
    p_ever_confirmed_interval: list[float]
    curve: Annotated[list[CurvePoint], Meta(description="P(confirmed by date), for a small chart")]


class QuestionLinks(Struct, kw_only=True):
    page: str
    forecast: str
    history: str
    changes: str
    evidence: str
    runs: str
    allies: str
    health: str


class QuestionOut(Struct, kw_only=True):
    slug: str
    question: str
    candidate: str
    opened: dt.date
    clock: Annotated[
        Literal["evidence", "live"],
        Meta(
            description="live: open, its cut-off follows today's date; evidence: replayed "
            "from its evidence, its cut-off the newest evidence date"
        ),
    ]
    resolved: Annotated[
        bool, Meta(description="Whether its outcome is on record (it is in the track record)")
    ]
    default: Annotated[bool, Meta(description="Whether the unprefixed endpoints serve it")]
    headline: Annotated[Headline | None, Meta(description="None while nothing is published")]
    links: QuestionLinks


class QuestionsOut(Struct, kw_only=True):
    """The served questions: open ones first (the default first among them), then those
    whose outcome is on record, each by slug."""

    questions: list[QuestionOut]
