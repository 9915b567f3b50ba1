"""The API side of ``python -m service``: migrate, seed, queue a first run, serve with
uvicorn. Imported by ``service.__main__`` after it has started the worker, so that the
worker's start (imports, compile) overlaps with these imports and the migrations."""

from __future__ import annotations

import logging

import uvicorn
from sqlalchemy import select
from sqlalchemy.orm import Session

from forecast.data.dataset import Dataset, load_dataset
from service.app import create_app
from service.common.db import Database, connect, migrate
from service.common.tables import ForecastRow, RunRow
from service.evidence.service import seed_evidence
from service.http.server import server_options
from service.publication.live import live_forecasts
from service.runs.queue import in_transaction, queue_live_run
from service.settings import Settings

logger = logging.getLogger(__name__)


def queue_first_run(database: Database, dataset: Dataset, seed: int) -> str | None:
    """Queue a live run if no live forecast is served and no run is queued or running."""

    def work(session: Session) -> str | None:
        if session.scalar(live_forecasts(ForecastRow.run_id).limit(1)) is not None:
            return None
        pending = select(RunRow.id).where(RunRow.status.in_(("queued", "running"))).limit(1)
        if session.scalar(pending) is not None:
            return None
        return queue_live_run(session, dataset, trigger="startup", seed=seed).id

    return in_transaction(database.sessions, work)


def prepare(settings: Settings, *, fit_if_empty: bool) -> None:
    """Migrate the database, seed the shipped evidence once, queue a first run if asked."""
    dataset = load_dataset(settings.data_dir)
    database = connect(settings.database_url)
    try:
        migrate(database)
        seed_evidence(database, dataset)
        if fit_if_empty:
            run_id = queue_first_run(database, dataset, settings.seed)
            if run_id:
                logger.info("no forecast is published yet: queued run %s", run_id)
    finally:
        database.dispose()


def serve_api(settings: Settings) -> None:
    """Serve the API with uvicorn until it is stopped."""
    uvicorn.run(create_app(settings), **server_options(settings))
