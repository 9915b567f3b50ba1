"""Where each served question keeps its evidence, runs, forecasts and run files.

Each question has tables of its own, so that nothing one question stores can reach
another's fit: the default question (``FORECAST_DATA_DIR``) keeps the database and the
run folder it always had (``FORECAST_DATABASE_URL``, ``FORECAST_ARTIFACTS_DIR``); every
other question keeps

- on SQLite, a database file of its own beside the default one
  (``<default file without .db>-questions/<slug>.db``: ``var/forecast-questions/``);
- on PostgreSQL, a schema of its own in the same database (``q_<slug>``, hyphens as
  underscores), created by the migrations;
- its run folders under ``<FORECAST_ARTIFACTS_DIR>-questions/<slug>/``.

The API process and the worker both place questions with ``places``, so they agree.
Each database records the question it holds at its first start, and a start that would
serve another question from it stops (``service.startup.owner_problems``): changing the
default question cannot serve one question's records as another's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from forecast.data.questions import QuestionDir, question_dirs
from service.settings import Settings


@dataclass(frozen=True)
class QuestionPlace:
    """One served question: its slug, data directory and where its records live."""

    slug: str
    data_dir: Path
    database_url: str
    schema: str | None  # the PostgreSQL schema of its tables (None: the URL's default)
    artifacts_dir: Path
    default: bool

    @property
    def directory(self) -> QuestionDir:
        """The question as ``forecast.data.questions`` names it (its slug and folder)."""
        return QuestionDir(self.slug, self.data_dir)

    @property
    def resolved(self) -> bool:
        """Whether its outcome is on record (its replay log and outcomes are shipped)."""
        return self.directory.resolved


def places(settings: Settings) -> list[QuestionPlace]:
    """The questions ``settings`` serve, the default one first.

    Raises
    ------
    forecast.data.questions.QuestionsError
        Naming every directory at fault.
    """
    found = question_dirs(settings.questions, settings.data_dir)
    return [_place(settings, q.slug, q.path, default=(i == 0)) for i, q in enumerate(found)]


def _place(settings: Settings, slug: str, data_dir: Path, *, default: bool) -> QuestionPlace:
    if default:
        return QuestionPlace(
            slug, data_dir, settings.database_url, None, settings.artifacts_dir, True
        )
    url = make_url(settings.database_url)
    schema = None
    if url.get_backend_name() == "sqlite":
        main = Path(url.database or "forecast.db")
        url = url.set(database=str(main.with_name(f"{main.stem}-questions") / f"{slug}.db"))
    else:
        schema = "q_" + slug.replace("-", "_")
    artifacts = settings.artifacts_dir.with_name(settings.artifacts_dir.name + "-questions")
    return QuestionPlace(
        slug,
        data_dir,
        url.render_as_string(hide_password=False),
        schema,
        artifacts / slug,
        False,
    )
