"""What "today" is (the date in UTC, for every caller) and where a question's live cut-off lies."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

logger = logging.getLogger(__name__)

# How a question's live cut-off moves (``clock`` in question.toml): ``evidence``, a
# question replayed from its data, whose cut-off is its newest evidence; ``live``, a
# question still open, whose cut-off follows today so that silence counts.
CLOCKS: tuple[str, ...] = ("evidence", "live")


def utcnow() -> dt.datetime:
    """Now, in UTC: every timestamp the product writes."""
    return dt.datetime.now(dt.UTC)


def today() -> dt.date:
    """Today's date in UTC: the latest date evidence may carry and the latest cut-off a
    fit may be asked for, in the service and the CLI alike. A day not yet begun in UTC
    holds no silence to count, and no fact may be dated in it."""
    return utcnow().date()


def live_as_of(
    opened: dt.date,
    clock: str,
    evidence_dates: Iterable[dt.date],
    now: dt.date | None = None,
) -> dt.date:
    """The cut-off of the live forecast: the opening date or the newest evidence, if
    later, and for a ``live`` question today (``now``, default ``today()``) if later still.

    Evidence is never dated after today (``today`` bounds it), so an ``evidence``
    question's cut-off never passes today either.
    """
    dates = [opened, *evidence_dates]
    if clock == "live":
        dates.append(now or today())
    return max(dates)
