"""Allies: the shipped list, each with its grievances, evidence and live forecast entry."""

from __future__ import annotations

import logging

from forecast.data.dataset import Dataset
from forecast.data.records import Ally
from forecast.posterior.schema import AllyForecast
from service.allies.schemas import AllyDetail, AllyOut, GrievanceOut
from service.common.errors import NotFound
from service.common.schemas import ProblemError
from service.evidence.service import EvidenceService
from service.forecasts.service import ForecastService

logger = logging.getLogger(__name__)


def _fields(ally: Ally, forecast: AllyForecast | None) -> dict:
    return {
        "code": ally.code,
        "name": ally.name,
        "member_since": ally.member_since,
        "blocs": list(ally.blocs),
        "spending_pct_gdp": ally.spending_pct_gdp,
        "spending_source": ally.spending_source,
        "source": ally.source,
        "forecast": forecast,
    }


class AllyService:
    """What the ally routes do."""

    def __init__(self, dataset: Dataset, forecasts: ForecastService, evidence: EvidenceService):
        self.dataset = dataset
        self.forecasts = forecasts
        self.evidence = evidence

    def list(self) -> list[AllyOut]:
        live = self.forecasts.live_allies()
        return [AllyOut(**_fields(a, live.get(a.code))) for a in self.dataset.allies]

    def get(self, code: str) -> AllyDetail:
        """One ally; ``NotFound`` listing the valid codes otherwise."""
        try:
            ally = self.dataset.ally(code)
        except KeyError:
            valid = ", ".join(sorted(self.dataset.codes))
            raise NotFound(
                f"no ally with code {code!r}",
                [ProblemError("code", f"{code!r} is not an ally code", valid)],
            ) from None
        holders = {ally.code, *ally.blocs}
        grievances = [
            GrievanceOut(
                id=g.id,
                holder=g.ally,
                summary=g.summary,
                severity=g.severity,
                recorded=g.recorded,
                resolved=g.resolved,
                source=g.source,
            )
            for g in self.dataset.grievances
            if g.ally in holders
        ]
        return AllyDetail(
            **_fields(ally, self.forecasts.live_allies().get(code)),
            grievances=grievances,
            evidence=self.evidence.list(ally=code),
        )
