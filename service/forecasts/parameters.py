"""The query parameters of GET /forecast (as_of, by, assume), read and checked."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Sequence
from typing import NamedTuple, TypeVar

from forecast.data.records import Problem, ValidationError
from forecast.posterior.own import ASSUMPTIONS
from service.common.errors import BadRequest
from service.common.schemas import VALID, ProblemError

logger = logging.getLogger(__name__)

# ``by`` dates are accepted from the campaign start to this many years after the cut-off:
# later dates say nothing the curve does not, and an open range invites cache flooding.
BY_WINDOW_YEARS = 3
MAX_BY_DATES = 10
T = TypeVar("T")


class Query(NamedTuple):
    """What a GET /forecast asks for: a cut-off (None: the live one), extra deadlines and
    what-if outcomes per ally code."""

    cut_off: dt.date | None
    dates: list[dt.date]
    what_if: dict[str, str]


def read_query(
    as_of: str | None, by: str | None, assume: str | None, codes: Sequence[str]
) -> Query:
    """The parameters as given, read in that order (the first one wrong is named).

    Raises
    ------
    BadRequest
        A parameter that cannot be read, naming it and its valid values.
    """
    return Query(
        _parse_date(as_of, "as_of"),
        _parameter(lambda: parse_by(by)),
        _parameter(lambda: parse_assume(assume, codes)),
    )


def parse_by(text: str | None) -> list[dt.date]:
    """Parse ``by=YYYY-MM-DD[,YYYY-MM-DD...]``; a date given twice is kept once, in the
    order of its first mention (the limit counts dates as given).

    Raises
    ------
    ValidationError
        Naming the field ``by`` and the valid form.
    """
    if text is None or text.strip() == "":
        return []
    valid = f"up to {MAX_BY_DATES} dates as YYYY-MM-DD, comma-separated"
    parts = [p.strip() for p in text.split(",")]
    if len(parts) > MAX_BY_DATES:
        raise ValidationError([Problem("by", f"has {len(parts)} dates", valid)])
    dates = []
    for part in parts:
        try:
            dates.append(dt.date.fromisoformat(part))
        except ValueError:
            raise ValidationError([Problem("by", f"{part!r} is not a date", valid)]) from None
    return list(dict.fromkeys(dates))


def parse_assume(text: str | None, codes: Sequence[str]) -> dict[str, str]:
    """Parse ``assume=HU:endorsed,TR:opposed`` into ``{"HU": "endorsed", ...}``; an ally
    named twice with the same outcome counts once.

    Raises
    ------
    ValidationError
        Naming the field ``assume``, the valid ally codes and outcomes, or an ally given
        two different outcomes.
    """
    if text is None or text.strip() == "":
        return {}
    assume: dict[str, str] = {}
    for part in text.split(","):
        code, sep, outcome = part.strip().partition(":")
        if not sep or not re.fullmatch(r"[A-Za-z]{2}", code):
            raise ValidationError(
                [Problem("assume", f"{part!r} is not CODE:OUTCOME", "e.g. HU:endorsed,TR:opposed")]
            )
        code = code.upper()
        if code not in codes:
            raise ValidationError(
                [Problem("assume", f"{code!r} is not an ally code", ", ".join(sorted(codes)))]
            )
        if outcome not in ASSUMPTIONS:
            raise ValidationError(
                [Problem("assume", f"{outcome!r} is not an outcome", ", ".join(ASSUMPTIONS))]
            )
        if assume.setdefault(code, outcome) != outcome:
            raise ValidationError(
                [
                    Problem(
                        "assume",
                        f"{code} is assumed both {assume[code]} and {outcome}",
                        f"one outcome per ally ({', '.join(ASSUMPTIONS)})",
                    )
                ]
            )
    return assume


def by_window(campaign_start: dt.date, as_of: dt.date) -> tuple[dt.date, dt.date]:
    """The ``by`` dates a forecast at ``as_of`` answers: campaign start to a few years on."""
    try:
        end = as_of.replace(year=as_of.year + BY_WINDOW_YEARS)
    except ValueError:  # 29 February
        end = as_of.replace(year=as_of.year + BY_WINDOW_YEARS, day=28)
    return campaign_start, end


def check_window(dates: list[dt.date], campaign_start: dt.date, as_of: dt.date) -> None:
    """``BadRequest`` naming every ``by`` date outside the window of a forecast at ``as_of``."""
    start, end = by_window(campaign_start, as_of)
    outside = [d for d in dates if not start <= d <= end]
    if outside:
        valid = (
            f"dates from {start} (the campaign start) to {end} ({BY_WINDOW_YEARS} years "
            f"after the cut-off {as_of})"
        )
        raise BadRequest(
            f"by date {outside[0]} is outside the window {start} to {end}",
            [ProblemError("by", f"{d} is outside the window", valid) for d in outside],
        )


def _parse_date(text: str | None, field: str) -> dt.date | None:
    if text is None or text.strip() == "":
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise BadRequest(
            f"invalid {field}", [ProblemError(field, f"{text!r} is not a date", VALID[field])]
        ) from None


def _parameter(parse: Callable[[], T]) -> T:
    try:
        return parse()
    except ValidationError as exc:
        fields = ", ".join(dict.fromkeys(p.field for p in exc.problems))
        raise BadRequest(f"invalid {fields}", exc.problems) from None
