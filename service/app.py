"""The app factory: ``create_app(settings)`` wires the controllers to the services."""

from __future__ import annotations

import logging
import tomllib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin

from forecast import __version__
from service.allies.routes import AllyController
from service.common.errors import EXCEPTION_HANDLERS
from service.evidence.routes import EvidenceController
from service.forecasts.routes import ForecastController
from service.forecasts.whatif import WhatIfs
from service.health.routes import HealthController
from service.http.auth import FailedAttempts
from service.http.docs import ReferencePlugin
from service.http.headers import add_security_headers
from service.http.responses import problems
from service.http.strict import StrictRequest
from service.page.routes import PageController, QuestionPageController
from service.questions.places import places
from service.questions.registry import SERVICE_NAMES, Questions, open_question
from service.questions.routes import QuestionController
from service.runs.routes import RunController
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
# Those each question has under /questions/{slug}/ (the page and its assets included).
QUESTION_CONTROLLERS = (
    HealthController,
    ForecastController,
    EvidenceController,
    RunController,
    AllyController,
    QuestionPageController,
)


@asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    """Open every question's data and database once, with its services; the default
    question's are also the app state's own names (the unprefixed endpoints')."""
    settings: Settings = app.state.settings
    what_ifs = WhatIfs(settings.what_if_workers, settings.what_if_queue)
    questions = Questions([open_question(place, settings, what_ifs) for place in places(settings)])
    default = questions.default
    app.state.update(
        questions=questions,
        dataset=default.dataset,
        database=default.database,
        write_status=default.write_status,
        **{name: getattr(default, name) for name in SERVICE_NAMES},
    )
    if not settings.api_token and not settings.api_tokens:
        logger.warning("FORECAST_API_TOKEN is not set: every write (POST, DELETE) answers 401")
    try:
        yield
    finally:
        questions.close()


def _from_state(name: str) -> Provide:
    def provide(state: State) -> Any:
        return state[name]

    return Provide(provide, sync_to_thread=False)


def _of_question(name: str) -> Provide:
    """The service ``name`` of the question in the path (404 naming the served slugs)."""

    def provide(state: State, slug: str) -> Any:
        return getattr(state.questions.in_path(slug), name)

    return Provide(provide, sync_to_thread=False)


def create_app(settings: Settings) -> Litestar:
    """The Litestar app for these settings (nothing is opened until it starts).

    Every question's endpoints are under ``/questions/{slug}/``; the unprefixed ones serve
    the default question.
    """
    title, question = api_wording(settings.data_dir)
    dependencies: dict[str, Provide | Callable[..., Any]] = {
        n: _from_state(n) for n in SERVICE_NAMES
    }
    per_question = Router(
        path="/questions/{slug:str}",
        route_handlers=list(QUESTION_CONTROLLERS),
        dependencies={n: _of_question(n) for n in SERVICE_NAMES},
    )
    app = Litestar(
        route_handlers=[*CONTROLLERS, QuestionController, per_question],
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
            "naming the fields at fault. Every question served has the same endpoints under "
            "/questions/{slug}/ (GET /questions lists them); the unprefixed ones serve the "
            "default question.",
            path="/schema",
            render_plugins=[ReferencePlugin(), JsonRenderPlugin()],
        ),
        state=State({"settings": settings, "failed_attempts": FailedAttempts()}),
        logging_config=None,  # the process configures logging (python -m service, tests)
        debug=False,
    )
    _name_question_operations(app, per_question.path)
    return app


def _name_question_operations(app: Litestar, prefix: str) -> None:
    """Each question's copy of an operation is ``question`` + its name (``getForecast``:
    ``questionGetForecast``), so that OpenAPI operation ids are unique, and may answer 404
    (a slug not served)."""
    for route in app.routes:
        if not route.path.startswith(prefix):
            continue
        for handler in getattr(route, "route_handlers", ()):
            name = handler.operation_id
            if isinstance(name, str) and not name.startswith("question"):
                handler.operation_id = "question" + name[0].upper() + name[1:]
            handler.responses = {**problems(404), **(handler.responses or {})}


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
