"""The track record as the API serves it: the stored file and whether it is current
(``forecast.track_record_file``; the record is made offline, never here)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from forecast.data.questions import QuestionDir
from forecast.track_record_file import read_status
from service.track_record.schemas import TrackRecordOut

logger = logging.getLogger(__name__)

# The record's fields the response carries beside its status.
RECORD_FIELDS = (
    "made_at",
    "quick",
    "package_version",
    "config_hash",
    "model_code_hash",
    "source_hash",
    "settings",
    "seconds",
    "questions",
    "pooled",
)


class TrackRecordService:
    def __init__(self, path: Path, questions: Sequence[QuestionDir] | None = None):
        self.path = path
        # The served questions: a record made for other resolved questions is stale.
        self.questions = questions

    def read(self) -> TrackRecordOut:
        """The record with ``ok``, ``stale`` or ``missing`` (a missing or unreadable file
        is not an error: the response says why and how to make it)."""
        found = read_status(self.path, self.questions)
        record = found.record or {}
        return TrackRecordOut(
            status=found.status,
            reason=found.reason,
            how_to_rebuild=found.how_to_rebuild,
            **{k: record[k] for k in RECORD_FIELDS if k in record},
        )
