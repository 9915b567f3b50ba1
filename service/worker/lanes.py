"""One worker, several questions: a lane per question, served in turn, and a bounded set
of compiled models.

Each question's runs wait in its own tables (``service.questions.places``). The worker
takes the questions in turn (round robin): after it has fitted a run of one question,
every other question with a run waiting comes before that question's next run, so that
evidence flooding one question (whose live runs coalesce into one anyway) never delays
another's rerun by more than one fit. Within a question, the queue's own order holds
(live runs first, then the oldest).

The worker keeps the compiled models of at most ``FORECAST_WORKER_MODELS`` questions,
one per question, the least recently used evicted (and logged); a question evicted is
compiled again from the disk caches (seconds) when its next run comes.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from forecast.data.dataset import Dataset, load_dataset
from forecast.pipeline.fit import Forecaster
from forecast.processes import release_free_memory
from service.common.db import Database, connect
from service.common.worker_status import WORKER_STATUS_FILE
from service.questions.places import QuestionPlace, places
from service.runs import queue
from service.runs.leases import worker_name
from service.settings import Settings
from service.worker.writes import WorkerWrites

logger = logging.getLogger(__name__)


class QueueWatch:
    """Whether a question's queue is worth a look: on SQLite, not while no other
    connection has committed since a look found it empty.

    ``PRAGMA data_version`` on a connection held for it (a few microseconds) changes
    whenever another connection commits; the worker's look at the queue is a query
    through the pool (a few hundred microseconds), which for 20 idle questions every poll
    was a sixth of a core. The version is read before the look, so a run queued while
    the look runs changes it and is seen at the next poll. On PostgreSQL every poll looks.
    """

    def __init__(self, database: Database):
        self.database = database
        self.connection: Any = None
        self.version = 0  # the version read by the last ``worth_a_look``
        self.empty_at: int | None = None  # the version at which the queue was found empty

    def worth_a_look(self) -> bool:
        if not self.database.is_sqlite:
            return True
        try:
            self.version = self._version()
        except self.database.engine.dialect.loaded_dbapi.Error:
            self.empty_at = None  # the look, through SQLAlchemy, reports what is wrong
            return True
        return self.empty_at is None or self.version != self.empty_at

    def looked(self, queued: bool) -> None:
        """What the look found (after ``worth_a_look`` said to look)."""
        if self.database.is_sqlite:
            self.empty_at = None if queued else self.version

    def _version(self) -> int:
        if self.connection is None:
            self.connection = self.database.engine.raw_connection()
        try:
            cursor = self.connection.cursor()
            try:
                cursor.execute("PRAGMA data_version")
                return int(cursor.fetchone()[0])
            finally:
                cursor.close()
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        if self.connection is not None:
            self.connection.invalidate()
            self.connection = None
        self.empty_at = None


@dataclass
class Lane:
    """One question as the worker sees it: its data, database and settings."""

    place: QuestionPlace
    dataset: Dataset
    database: Database
    writes: WorkerWrites
    # The worker's settings with this question's data and run folders.
    settings: Settings
    watch: QueueWatch
    # While its model cannot be built (``loop._park``): monotonic seconds it waits until.
    parked_until: float = 0.0

    @property
    def slug(self) -> str:
        return self.place.slug

    def parked(self) -> bool:
        return time.monotonic() < self.parked_until

    def has_queued(self) -> bool:
        """Whether a run is queued (``QueueWatch`` spares the query while nothing changed)."""
        if not self.watch.worth_a_look():
            return False
        queued = queue.has_queued(self.database.reader)
        self.watch.looked(queued)
        return queued

    def close(self) -> None:
        self.watch.close()
        self.database.dispose()


def open_lanes(settings: Settings) -> list[Lane]:
    """A lane per served question, the default one first.

    Raises
    ------
    forecast.data.questions.QuestionsError, forecast.data.records.ValidationError
        When a question cannot be served.
    """
    lanes = []
    for place in places(settings):
        database = connect(place.database_url, place.schema)
        lanes.append(
            Lane(
                place=place,
                dataset=load_dataset(place.data_dir),
                database=database,
                writes=WorkerWrites(
                    database,
                    place.artifacts_dir / WORKER_STATUS_FILE,
                    worker_name(),
                    settings.run_lease_seconds,
                ),
                settings=dataclasses.replace(
                    settings, data_dir=place.data_dir, artifacts_dir=place.artifacts_dir
                ),
                watch=QueueWatch(database),
            )
        )
    return lanes


class RoundRobin:
    """The lanes in the order they are offered the next fit: whoever was served last
    goes to the back."""

    def __init__(self, lanes: list[Lane]):
        self.order = deque(lanes)

    def __iter__(self) -> Iterator[Lane]:
        return iter(list(self.order))

    def served(self, lane: Lane) -> None:
        """``lane`` had a run fitted: every other lane comes before its next one."""
        self.order.remove(lane)
        self.order.append(lane)


class Forecasters:
    """The compiled forecasters of the questions fitted last, at most ``limit`` of them."""

    def __init__(self, make: Callable[[Settings], Forecaster], limit: int):
        self.make = make
        self.limit = limit
        self.kept: OrderedDict[str, Forecaster] = OrderedDict()

    def get(self, lane: Lane) -> Forecaster:
        """The lane's forecaster, made (and compiled) if it is not kept; the least
        recently used beyond ``limit`` is evicted."""
        found = self.kept.get(lane.slug)
        if found is not None:
            self.kept.move_to_end(lane.slug)
            return found
        forecaster = self.make(lane.settings)
        seconds = forecaster.compile()
        logger.info("%s: compiled its model in %.1f s", lane.slug, seconds)
        self.put(lane.slug, forecaster)
        return forecaster

    def put(self, slug: str, forecaster: Forecaster) -> None:
        self.kept[slug] = forecaster
        self.kept.move_to_end(slug)
        evicted = []
        while len(self.kept) > self.limit:
            old, _ = self.kept.popitem(last=False)
            evicted.append(old)
        if evicted:
            logger.info(
                "evicted the compiled model of %s (a worker keeps %d; FORECAST_WORKER_MODELS)",
                ", ".join(evicted),
                self.limit,
            )
            release_free_memory()
