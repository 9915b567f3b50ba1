"""The API side of ``python -m service``: migrate, seed, queue a first run, serve with
uvicorn. Imported by ``service.__main__`` after it has started the worker, so that the
worker's start (imports, compile) overlaps with these imports and the migrations."""

from __future__ import annotations

import logging

import uvicorn
from sqlalchemy import select
from sqlalchemy.orm import Session

from forecast.data.dataset import Dataset, load_dataset
from forecast.data.questions import QuestionsError
from forecast.data.records import ValidationError
from service.app import create_app
from service.common.db import Database, connect, migrate
from service.common.tables import ForecastRow, QuestionRow, RunRow
from service.evidence.service import seed_evidence
from service.http.server import server_options
from service.publication.live import live_forecasts
from service.questions.places import QuestionPlace, places
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


class StartError(ValueError):
    """The questions cannot be served; the message lists every problem, per question."""


def served_questions(settings: Settings) -> list[tuple[QuestionPlace, Dataset]]:
    """Every served question with its validated data.

    Raises
    ------
    StartError
        Listing every problem of every question (a directory that fails ``check``, two
        with one slug, a token limited to a question that is not served).
    """
    try:
        found = places(settings)
    except QuestionsError as exc:
        raise StartError(str(exc)) from None
    problems, loaded = [], []
    for place in found:
        try:
            loaded.append((place, load_dataset(place.data_dir)))
        except ValidationError as exc:
            problems.append(f"question {place.slug} ({place.data_dir}): {exc}")
    slugs = [place.slug for place in found]
    for scope in settings.api_tokens.values():
        unknown = [s for s in scope if s != "*" and s not in slugs]
        if unknown:
            problems.append(
                f"FORECAST_API_TOKENS: a token names {', '.join(unknown)}, not served "
                f"(valid: {', '.join(slugs)}, or *)"
            )
    if problems:
        raise StartError("; ".join(problems))
    return loaded


def prepare(settings: Settings, *, fit_if_empty: bool) -> None:
    """For each question: migrate its tables, seed its shipped evidence once, queue a
    first run if asked (the default question's first, so that the worker fits it first).

    Raises
    ------
    StartError
        Before any evidence or run is stored, when any question cannot be served: its
        data, or a database that holds another question's records (each database
        records its question at its first start).
    """
    served = served_questions(settings)
    databases = [connect(place.database_url, place.schema) for place, _ in served]
    try:
        problems = []
        for (place, _), database in zip(served, databases, strict=True):
            migrate(database)
            problems += owner_problems(database, place)
        if problems:
            raise StartError("; ".join(problems))
        for (place, dataset), database in zip(served, databases, strict=True):
            seed_evidence(database, dataset)
            if fit_if_empty:
                run_id = queue_first_run(database, dataset, settings.seed)
                if run_id:
                    logger.info(
                        "%s: no forecast is published yet: queued run %s", place.slug, run_id
                    )
    finally:
        for database in databases:
            database.dispose()


def owner_problems(database: Database, place: QuestionPlace) -> list[str]:
    """The database's question, recorded at its first start (``QuestionRow``): a problem
    if it is another question's (its evidence, runs and forecasts would be served as
    this one's, as when the default question is changed)."""

    def work(session: Session) -> str | None:
        owner = session.scalar(select(QuestionRow.slug))
        if owner is None:
            session.add(QuestionRow(slug=place.slug))
        return owner

    owner = in_transaction(database.sessions, work)
    if owner is None or owner == place.slug:
        return []
    return [
        f"question {place.slug}: its database ({place.database_url.split('@')[-1]}"
        f"{', schema ' + place.schema if place.schema else ''}) holds the records of "
        f"question {owner!r} (valid: serve {owner!r} from it, or give {place.slug!r} "
        "another FORECAST_DATABASE_URL)"
    ]


def serve_api(settings: Settings) -> None:
    """Serve the API with uvicorn until it is stopped."""
    uvicorn.run(create_app(settings), **server_options(settings))
