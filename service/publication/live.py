"""Which published forecasts are served, and which one of them is the live forecast.

A withdrawn forecast (``DELETE /runs/{id}``) is kept but served nowhere. The live forecast
(``GET /forecast`` without ``as_of``) is that of a live run, one that follows the evidence:
the greatest cut-off, then the newest publication. A manual run (``POST /runs``) is
served at its cut-off (``?as_of=``) and never becomes the live forecast, whatever its
cut-off; nor does it move the cut-off of the next live run.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import Select, select

from service.common.tables import ForecastRow, RunRow

logger = logging.getLogger(__name__)

SERVED = ForecastRow.withdrawn_at.is_(None)
# At one cut-off, or among live forecasts: the greatest cut-off, then the newest.
NEWEST = (ForecastRow.as_of.desc(), ForecastRow.published_at.desc(), ForecastRow.run_id.desc())


def served(*columns: Any) -> Select[Any]:
    """Forecasts that are served (not withdrawn): of ``columns``, or the rows."""
    return select(*(columns or (ForecastRow,))).where(SERVED)


def served_at(as_of: dt.date, *columns: Any) -> Select[Any]:
    """Forecasts served at the cut-off ``as_of``, newest first: the first is what
    ``?as_of=`` serves."""
    return served(*columns).where(ForecastRow.as_of == as_of).order_by(*NEWEST)


def live_forecasts(*columns: Any) -> Select[Any]:
    """Served forecasts of live runs, newest first: the first is the live forecast."""
    return (
        served(*columns)
        .join(RunRow, RunRow.id == ForecastRow.run_id)
        .where(RunRow.live.is_(True))
        .order_by(*NEWEST)
    )


def live_runs(*columns: Any) -> Select[Any]:
    """Runs that follow the evidence (whatever their status), newest request first: the
    first is the run the live forecast's freshness reports (queued, running or failed)."""
    return (
        select(*(columns or (RunRow,)))
        .where(RunRow.live.is_(True))
        .order_by(RunRow.requested_at.desc(), RunRow.id.desc())
    )
