"""The served questions' services, one set per question, and the lookup by slug."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from forecast.data.dataset import Dataset, load_dataset
from service.allies.service import AllyService
from service.common.db import Database, connect
from service.common.errors import NotFound
from service.common.outages import WriteStatus
from service.common.schemas import ProblemError
from service.common.worker_status import WORKER_STATUS_FILE
from service.evidence.service import EvidenceService
from service.forecasts.changes import ChangeService
from service.forecasts.service import ForecastService
from service.forecasts.whatif import WhatIfs
from service.health.service import HealthService
from service.http.clients import may_write, write_tokens
from service.questions.places import QuestionPlace
from service.runs.service import RunService
from service.settings import Settings

logger = logging.getLogger(__name__)

# The services a request handler is given (the names of its dependencies).
SERVICE_NAMES = ("forecasts", "evidence", "changes", "runs", "allies", "health")


@dataclass(frozen=True)
class QuestionServices:
    """One question's data, database and services (each over its own tables)."""

    place: QuestionPlace
    dataset: Dataset
    database: Database
    forecasts: ForecastService
    evidence: EvidenceService
    changes: ChangeService
    runs: RunService
    allies: AllyService
    health: HealthService
    write_status: WriteStatus

    @property
    def slug(self) -> str:
        return self.place.slug

    def close(self) -> None:
        self.forecasts.close()
        self.database.dispose()


def open_question(
    place: QuestionPlace, settings: Settings, what_ifs: WhatIfs | None = None
) -> QuestionServices:
    """Load the question's data and open its database (migrated by the API's start);
    ``what_ifs``: the process's, shared by every question."""
    dataset = load_dataset(place.data_dir)
    database = connect(place.database_url, place.schema)
    forecasts = ForecastService(
        database,
        dataset,
        place.artifacts_dir,
        what_if_workers=settings.what_if_workers,
        what_if_queue=settings.what_if_queue,
        prefix="" if place.default else f"/questions/{place.slug}",
        what_ifs=what_ifs,
    )
    evidence = EvidenceService(database, dataset, settings.seed)
    write_status = WriteStatus(database)
    return QuestionServices(
        place=place,
        dataset=dataset,
        database=database,
        forecasts=forecasts,
        evidence=evidence,
        changes=ChangeService(database),
        runs=RunService(database, dataset, settings.seed, settings.max_queued_runs),
        allies=AllyService(dataset, forecasts, evidence),
        health=HealthService(
            database,
            forecasts,
            writes_enabled(settings, place.slug),
            write_status=write_status,
            # The worker's report of its writes to this question's tables (and, for the
            # default question, of its compile).
            worker_status=place.artifacts_dir / WORKER_STATUS_FILE,
        ),
        write_status=write_status,
    )


def writes_enabled(settings: Settings, slug: str) -> bool:
    """Whether some configured token may write to the question ``slug``."""
    return any(may_write(scope, slug) for _, scope in write_tokens(settings))


class Questions:
    """The served questions by slug, the default one first."""

    def __init__(self, served: list[QuestionServices]):
        self.by_slug = {q.slug: q for q in served}
        self.default = served[0]

    def __iter__(self) -> Iterator[QuestionServices]:
        return iter(self.by_slug.values())

    def __len__(self) -> int:
        return len(self.by_slug)

    def in_path(self, slug: str | None) -> QuestionServices:
        """The question a request's path names (``slug``; None, an unprefixed path: the
        default question); ``NotFound`` (404) for a slug not served."""
        return self.default if slug is None else self.get(slug)

    def found_in_path(self, slug: str | None) -> QuestionServices | None:
        """``in_path`` without the 404: None for a slug not served (for code that runs
        before the handler, which answers it)."""
        return self.default if slug is None else self.by_slug.get(slug)

    def get(self, slug: str) -> QuestionServices:
        """The question ``slug``; ``NotFound`` (404) naming the valid slugs."""
        found = self.by_slug.get(slug)
        if found is None:
            valid = ", ".join(self.by_slug)
            raise NotFound(
                f"no question {slug!r}", [ProblemError("slug", "is not a served question", valid)]
            )
        return found

    def close(self) -> None:
        for question in self:
            question.close()
