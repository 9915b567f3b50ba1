"""Response bodies of /allies (msgspec structs; they are the OpenAPI schema)."""

from __future__ import annotations

import datetime as dt
import logging

import msgspec
from msgspec import Struct

from forecast.posterior.schema import AllyForecast
from service.evidence.schemas import EvidenceOut

logger = logging.getLogger(__name__)


class GrievanceOut(Struct, kw_only=True):
    id: str
    holder: str
    summary: str
    severity: int
    recorded: dt.date
    resolved: dt.date | None
    source: str


class AllyOut(Struct, kw_only=True):
    """An ally, with its entry in the live forecast once one is published."""

    code: str
    name: str
    member_since: dt.date | None
    blocs: list[str]
    spending_pct_gdp: float | None
    spending_source: str
    source: str
    forecast: AllyForecast | None = None


class AllyDetail(AllyOut, kw_only=True):
    """An ally with the grievances it holds (own or its blocs') and its evidence."""

    grievances: list[GrievanceOut] = msgspec.field(default_factory=list)
    evidence: list[EvidenceOut] = msgspec.field(default_factory=list)
