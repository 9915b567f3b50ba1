"""Current time for the service (UTC) and the latest date a fact can carry."""

from __future__ import annotations

import datetime as dt
import logging

logger = logging.getLogger(__name__)

# The earliest time zone (UTC+14) starts each calendar day 14 hours before UTC.
EARLIEST_ZONE = dt.timedelta(hours=14)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def today() -> dt.date:
    """The latest calendar date that has begun anywhere: a post dated 'today' by a user
    east of the server is accepted."""
    return (utcnow() + EARLIEST_ZONE).date()


def utc_today() -> dt.date:
    """Today's date in UTC: the latest cut-off a run may be asked for (unless evidence is
    dated later), so that no cut-off is fitted before its day has begun at the server."""
    return utcnow().date()
