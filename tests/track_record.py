"""A hand-made track record (one question, one checkpoint) for the tests that read one:
no replay, the fields ``forecast/checks/track_record.py`` writes."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from forecast.track_record_file import fingerprint, question_hash

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "nato-2014"


def copy_question(root: Path) -> Path:
    """A copy of the 2014 example (a resolved question) that a test may edit."""
    return Path(shutil.copytree(EXAMPLE, root / "nato-2014"))


def hand_made_record(question: Path, **changes: Any) -> dict[str, Any]:
    """A record of ``question`` made by this code on its files as they are now."""
    record = {
        "made_at": "2026-12-07T10:00:00+00:00",
        **fingerprint(),
        "config_hash": "0123456789abcdef",
        "quick": False,
        "settings": {"seed": 1, "sampler": {"draws": 700}, "max_checkpoints": 8},
        "seconds": 42.0,
        "questions": [
            {
                "slug": "nato-2014",
                "path": str(question),
                "data_hash": question_hash(question),
                "question": "Will NATO allies confirm Jens Stoltenberg?",
                "candidate": "Jens Stoltenberg",
                "opened": "2014-03-18",
                "confirmed": "2014-03-28",
                "checkpoints": [
                    {
                        "as_of": "2014-03-18",
                        "evidence_count": 3,
                        "gate": "passed",
                        "deadlines": [
                            {
                                "key": "april_ministerial",
                                "label": "Before the April ministerial",
                                "date": "2014-03-31",
                                "p": 0.7,
                                "interval": [0.6, 0.8],
                                "outcome": 1.0,
                                "brier": 0.09,
                                "log": 0.3567,
                                "base_rate": 0.4,
                                "base_rate_brier": 0.36,
                                "base_rate_log": 0.9163,
                            }
                        ],
                        "ever": {
                            "p": 0.9,
                            "interval": [0.85, 0.95],
                            "outcome": 1.0,
                            "brier": 0.01,
                            "log": 0.1054,
                            "base_rate": 0.8,
                            "base_rate_brier": 0.04,
                            "base_rate_log": 0.2231,
                        },
                        "confirmation_date": {
                            "actual": "2014-03-28",
                            "grid_last_day": "2014-12-23",
                            "interval_50": ["2014-03-22", "2014-04-16"],
                            "covered_50": True,
                            "interval_94": ["2014-03-19", None],
                            "covered_94": True,
                        },
                    }
                ],
                "scores": {
                    "deadlines": {
                        "model": {"brier": 0.09, "log": 0.3567, "n": 1},
                        "base_rate": {"brier": 0.36, "log": 0.9163, "n": 1},
                    },
                    "ever": {
                        "model": {"brier": 0.01, "log": 0.1054, "n": 1},
                        "base_rate": {"brier": 0.04, "log": 0.2231, "n": 1},
                    },
                },
                "by_deadline": {},
            }
        ],
        "pooled": {
            "checkpoints": 1,
            "failed_checkpoints": 0,
            "scores": {
                "deadlines": {
                    "model": {"brier": 0.09, "log": 0.3567, "n": 1},
                    "base_rate": {"brier": 0.36, "log": 0.9163, "n": 1},
                }
            },
            "calibration": [{"bin": "0.7-0.8", "n": 1, "mean_forecast": 0.7, "observed": 1.0}],
            "coverage": {"50": {"covered": 1, "n": 1, "share": 1.0}},
            "allies": {},
        },
    }
    return record | changes
