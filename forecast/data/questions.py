"""Which questions are served: ``FORECAST_QUESTIONS`` (or ``--questions``) read into slugs
and directories, the default question first.

A question is a data directory (``question.toml`` and its CSV files). Its slug, the name
under ``/questions/{slug}/`` and in the track record, is ``slug`` in its
``question.toml`` when given, else the directory's name (lower case, other characters
as hyphens). The selection is

- empty: the default question and every example under ``examples/``;
- a folder without a ``question.toml``: the default question and each sub-folder that has one;
- else a comma-separated list of question directories (the default question is added
  first when the list does not name it).

The default question (``FORECAST_DATA_DIR``, ``data/``) is always served: the unprefixed
endpoints serve it. Two directories with one slug, a directory without ``question.toml``
or a slug outside ``SLUG_PATTERN`` stop the start, every problem listed.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path

import msgspec

from forecast.data.dataset import DEFAULT_DATA_DIR
from forecast.data.question import SLUG_PATTERN, SLUG_RULE

EXAMPLES_DIR = DEFAULT_DATA_DIR.parent / "examples"
# A question whose outcome is on record ships these beside its data (``examples/``).
REPLAY_FILES = ("later.csv", "outcomes.csv")


class QuestionsError(ValueError):
    """The selection of questions cannot be served; the message lists every problem."""


class QuestionDir(msgspec.Struct, frozen=True):
    """One served question: its slug and its data directory."""

    slug: str
    path: Path

    @property
    def resolved(self) -> bool:
        """Whether its outcome is on record (its replay log and outcomes are shipped)."""
        return all((self.path / name).is_file() for name in REPLAY_FILES)


def question_slug(path: Path) -> str:
    """``slug`` in ``path/question.toml`` if it is given, else the directory's name.

    Raises
    ------
    QuestionsError
        When ``question.toml`` cannot be read or its slug is not a slug.
    """
    try:
        with (path / "question.toml").open("rb") as handle:
            raw = tomllib.load(handle)
    except OSError as exc:
        raise QuestionsError(f"{path}: question.toml cannot be read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise QuestionsError(f"{path}/question.toml is not valid TOML: {exc}") from None
    slug = raw.get("slug") or _slugified(path.resolve().name)
    if not isinstance(slug, str) or not SLUG_PATTERN.match(slug):
        raise QuestionsError(f"{path}: slug {slug!r} is not valid (valid: {SLUG_RULE})")
    return slug


def _slugified(name: str) -> str:
    """A directory's name as a slug: lower case, every run of other characters a hyphen."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:63].strip("-")
    return slug or "question"


def question_dirs(spec: str | None, default: Path | None = None) -> list[QuestionDir]:
    """The questions to serve, the default one (``default``, else ``data/``) first.

    Raises
    ------
    QuestionsError
        Naming every directory at fault and the valid values.
    """
    default = Path(default) if default is not None else DEFAULT_DATA_DIR
    paths = [default, *_selected(spec)]
    problems: list[str] = []
    found: list[QuestionDir] = []
    seen: dict[Path, str] = {}
    for path in paths:
        real = path.resolve()
        if real in seen:
            continue
        try:
            slug = question_slug(path)
        except QuestionsError as exc:
            problems.append(str(exc))
            continue
        clash = next((q for q in found if q.slug == slug), None)
        if clash is not None:
            problems.append(
                f"{path}: slug {slug!r} is taken by {clash.path} (valid: one directory per "
                "slug; set slug in question.toml)"
            )
            continue
        seen[real] = slug
        found.append(QuestionDir(slug, path))
    if problems:
        raise QuestionsError("FORECAST_QUESTIONS: " + "; ".join(problems))
    return found


def _selected(spec: str | None) -> Sequence[Path]:
    """The directories ``spec`` names, besides the default question."""
    text = (spec or "").strip()
    if not text:
        return _with_question(EXAMPLES_DIR) if EXAMPLES_DIR.is_dir() else []
    folder = Path(text)
    if folder.is_dir() and not (folder / "question.toml").exists():
        return _with_question(folder)
    return [Path(item.strip()) for item in text.split(",") if item.strip()]


def _with_question(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if (p / "question.toml").is_file())
