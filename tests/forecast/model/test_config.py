"""The model's default configuration against the values docs/model.md gives for it."""

from __future__ import annotations

import re
from pathlib import Path

from forecast.model.config import DEFAULT_MODEL_CONFIG

MODEL_DOC = Path(__file__).resolve().parents[3] / "docs" / "model.md"


def test_the_default_focal_window_is_the_one_the_model_doc_states():
    """docs/model.md's table of priors: a binding date's window opens 7 days before its
    first day and closes 3 days after."""
    row = re.search(
        r"^\| `focal_lead_days`, `focal_tail_days` \| (\d+), (\d+) ",
        MODEL_DOC.read_text(),
        re.MULTILINE,
    )
    assert row, "the focal window's row in docs/model.md"
    assert (float(row[1]), float(row[2])) == (7.0, 3.0)
    window = (DEFAULT_MODEL_CONFIG["focal_lead_days"], DEFAULT_MODEL_CONFIG["focal_tail_days"])
    assert window == (7.0, 3.0)
