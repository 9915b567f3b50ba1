"""The stored track record: where it lives, how it is written and read back, and whether
it is still the record of this code and these data.

``forecast/checks/track_record.py`` makes the record (it fits the model); this module
only reads and checks files, so that the API process can serve the record without PyMC.
A record is stale when it was made by another package version, by other model code
(``model_code_hash``: the code of ``source.MODEL_ROOMS``, the default model config
included, which fixes ``config_hash`` too), by other check code (``source_hash``), or on
other question files (each question's ``data_hash``), or when a question it holds is gone.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import msgspec

from forecast import __version__
from forecast.data.dataset import DEFAULT_DATA_DIR
from forecast.data.questions import QuestionDir
from forecast.digest import data_hash
from forecast.files import replacing
from forecast.jsonable import encode
from forecast.source import CHECK_ROOMS, MODEL_ROOMS, source_digest

logger = logging.getLogger(__name__)

TRACK_RECORD_ENV = "FORECAST_TRACK_RECORD"
DEFAULT_TRACK_RECORD = DEFAULT_DATA_DIR.parent / "var" / "track-record.json"
REBUILD_COMMAND = "python -m forecast track-record"
# What a file must hold to be read as a record (the rest is shown as it is).
RECORD_FIELDS = ("made_at", "package_version", "model_code_hash", "source_hash", "questions")
QUESTION_FIELDS = ("slug", "path", "data_hash", "checkpoints")


class RecordStatus(msgspec.Struct, kw_only=True):
    """What a reader of the stored record is told: the record (None when missing),
    ``ok``, ``stale`` or ``missing``, why, and the command that makes it again."""

    status: Literal["ok", "stale", "missing"]
    reason: str | None
    how_to_rebuild: str
    record: dict[str, Any] | None = None


def record_path(path: Path | str | None = None) -> Path:
    """``path``, else ``FORECAST_TRACK_RECORD``, else ``var/track-record.json``."""
    return Path(path or os.environ.get(TRACK_RECORD_ENV) or DEFAULT_TRACK_RECORD)


def question_files(folder: Path | str) -> list[str]:
    """The files of a question that make its record: ``question.toml`` and every CSV
    beside it (the replay log and the outcomes included)."""
    return ["question.toml", *sorted(p.name for p in Path(folder).glob("*.csv"))]


def question_hash(folder: Path | str) -> str:
    """``digest.data_hash`` over ``question_files(folder)``."""
    return data_hash(folder, question_files(folder))


def fingerprint() -> dict[str, str]:
    """The code a record is made by: package version, model code, check code."""
    return {
        "package_version": __version__,
        "model_code_hash": source_digest(MODEL_ROOMS),
        "source_hash": source_digest(CHECK_ROOMS),
    }


def rebuild_command(path: Path | str | None = None) -> str:
    """The command that makes the record at ``path`` (the default one needs no option)."""
    path = record_path(path)
    if path.resolve() == record_path().resolve():
        return REBUILD_COMMAND
    return f"{REBUILD_COMMAND} --out {path}"


def write_record(record: Mapping[str, Any], path: Path | str | None = None) -> Path:
    """Write the record as JSON atomically (a reader sees the old file or the new one);
    NaN is written as null."""
    path = record_path(path)
    with replacing(path) as partial:
        partial.write_bytes(encode(record))
    return path


def stale_reason(record: Mapping[str, Any], questions: Sequence[QuestionDir] | None) -> str | None:
    """Why ``record`` is not the record of this code and these data, or None if it is.

    ``questions``: the resolved questions the reader expects (None: those the record
    names, at the directories it names).
    """
    for what, now in fingerprint().items():
        found = record.get(what)
        if found != now:
            return f"made with {what.replace('_', ' ')} {found}, now {now}"
    recorded = {q["slug"]: q for q in record["questions"]}
    if questions is not None:
        wanted = {q.slug: q.path for q in questions if q.resolved}
        if set(wanted) != set(recorded):
            return (
                f"made for the questions {', '.join(sorted(recorded)) or 'none'}, "
                f"now {', '.join(sorted(wanted)) or 'none'}"
            )
        paths = wanted
    else:
        paths = {slug: Path(q["path"]) for slug, q in recorded.items()}
    for slug, folder in paths.items():
        if not (folder / "question.toml").is_file():
            return f"the question {slug} is gone from {folder}"
        now = question_hash(folder)
        if recorded[slug]["data_hash"] != now:
            return (
                f"the data of {slug} changed (data hash {recorded[slug]['data_hash']}, now {now})"
            )
    return None


def read_status(
    path: Path | str | None = None, questions: Sequence[QuestionDir] | None = None
) -> RecordStatus:
    """The stored record and whether it is current: ``missing`` (no file, or one that
    cannot be read as a record: the reason says which), ``stale`` (with the reason) or
    ``ok``. Never raises for a bad file."""
    path = record_path(path)
    how = rebuild_command(path)
    if not path.exists():
        return RecordStatus(
            status="missing", reason=f"no track record in {path}", how_to_rebuild=how
        )
    try:
        record = json.loads(path.read_bytes())
        _check_shape(record)
        why = stale_reason(record, questions)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("track record %s is unreadable, treated as missing: %s", path, exc)
        return RecordStatus(
            status="missing",
            reason=f"{path} cannot be read as a track record: {exc}",
            how_to_rebuild=how,
        )
    return RecordStatus(
        status="ok" if why is None else "stale", reason=why, how_to_rebuild=how, record=record
    )


def _check_shape(record: Any) -> None:
    """ValueError naming what a file lacks to be a record."""
    if not isinstance(record, dict):
        raise ValueError(f"not a track record: a JSON {type(record).__name__}, not an object")
    lacking = [k for k in RECORD_FIELDS if k not in record]
    if not lacking and not isinstance(record["questions"], list):
        lacking = ["a list of questions"]
    for q in record.get("questions") or []:
        lacking += [
            f"question {k}" for k in QUESTION_FIELDS if not isinstance(q, dict) or k not in q
        ]
    if lacking:
        raise ValueError(f"not a track record (no {', '.join(dict.fromkeys(lacking))})")
