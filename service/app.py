"""The app factory: ``create_app(settings)`` wires the controllers to the services."""

from __future__ import annotations

import logging
import tomllib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin

from forecast import __version__
from forecast.data.dataset import load_dataset
from service.allies.routes import AllyController
from service.allies.service import AllyService
from service.common.db import connect
from service.common.errors import EXCEPTION_HANDLERS
from service.common.outages import WriteStatus
from service.common.worker_status import WORKER_STATUS_FILE
from service.evidence.routes import EvidenceController
from service.evidence.service import EvidenceService
from service.forecasts.changes import ChangeService
from service.forecasts.routes import ForecastController
from service.forecasts.service import ForecastService
from service.health.routes import HealthController
from service.health.service import HealthService
from service.http.auth import FailedAttempts
from service.http.docs import ReferencePlugin
from service.http.headers import add_security_headers
from service.http.strict import StrictRequest
from service.page.routes import PageController
from service.runs.routes import RunController
from service.runs.service import RunService
from service.settings import Settings
from service.track_record.routes import TrackRecordController

logger = logging.getLogger(__name__)

# One Controller per resource, each in its resource's folder beside the service it calls.
CONTROLLERS = (
    HealthController,
    ForecastController,
    EvidenceController,
    RunController,
    AllyController,
    PageController,
    TrackRecordController,
)


@asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    """Load the dataset and open the database once; build the services over them."""
    settings: Settings = app.state.settings
    dataset = load_dataset(settings.data_dir)
    database = connect(settings.database_url)
    forecasts = ForecastService(
        database,
        dataset,
        settings.artifacts_dir,
        what_if_workers=settings.what_if_workers,
        what_if_queue=settings.what_if_queue,
    )
    evidence = EvidenceService(database, dataset, settings.seed)
    write_status = WriteStatus(database)
    app.state.update(
        dataset=dataset,
        database=database,
        forecasts=forecasts,
        evidence=evidence,
        changes=ChangeService(database),
        runs=RunService(database, dataset, settings.seed, settings.max_queued_runs),
        allies=AllyService(dataset, forecasts, evidence),
        write_status=write_status,
        health=HealthService(
            database,
            forecasts,
            bool(settings.api_token),
            write_status=write_status,
            worker_status=settings.artifacts_dir / WORKER_STATUS_FILE,
        ),
    )
    if not settings.api_token:
        logger.warning("FORECAST_API_TOKEN is not set: every write (POST, DELETE) answers 401")
    try:
        yield
    finally:
        forecasts.close()
        database.dispose()


def _from_state(name: str) -> Provide:
    def provide(state: State) -> Any:
        return state[name]

    return Provide(provide, sync_to_thread=False)


def create_app(settings: Settings) -> Litestar:
    """The Litestar app for these settings (nothing is opened until it starts)."""
    names = ("forecasts", "evidence", "changes", "runs", "allies", "health")
    title, question = api_wording(settings.data_dir)
    dependencies: dict[str, Provide | Callable[..., Any]] = {n: _from_state(n) for n in names}
    return Litestar(
        route_handlers=list(CONTROLLERS),
        dependencies=dependencies,
        lifespan=[lifespan],
        exception_handlers=EXCEPTION_HANDLERS,
        request_class=StrictRequest,
        before_send=[add_security_headers],
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title=title,
            version=__version__,
            description=f"Bayesian forecast: {question} Errors are RFC 9457 problem details "
            "naming the fields at fault.",
            path="/schema",
            render_plugins=[ReferencePlugin(), JsonRenderPlugin()],
        ),
        state=State({"settings": settings, "failed_attempts": FailedAttempts()}),
        logging_config=None,  # the process configures logging (python -m service, tests)
        debug=False,
    )


def api_wording(data_dir: Path) -> tuple[str, str]:
    """The API's title and question, from the question directory's ``question.toml``
    (generic words if it cannot be read: the data are validated, with a clear message,
    when the service starts)."""
    try:
        with (data_dir / "question.toml").open("rb") as handle:
            toml = tomllib.load(handle)
        candidate, question = str(toml["candidate"]), str(toml["question"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "Consensus appointment forecast", "who is confirmed, and by when."
    return f"{candidate} confirmation forecast", question
