"""load_run: a stored run with the evidence it was fitted on, posted items included."""

from __future__ import annotations

import datetime as dt

import pytest

from forecast.data.records import EvidenceItem
from forecast.pipeline.store import INPUTS_FILE, load_run, write_evidence, write_json

SHIPPED = EvidenceItem(
    ally="AA", kind="endorsement", date=dt.date(2024, 2, 1), source="seed.txt", summary="AA backs"
)
POSTED = EvidenceItem(
    ally="DD",
    kind="objection",
    date=dt.date(2024, 3, 1),
    source="https://example.org/news",
    summary="DD objects",
    reliability=0.7,
)


def store(root, run_id: str, items, with_evidence: bool = True):
    run_dir = root / run_id
    write_json(run_dir / INPUTS_FILE, {"run_id": run_id, "evidence_ids": [i.id for i in items]})
    if with_evidence:
        write_evidence(run_dir, items)
    return run_dir


def test_a_run_brings_its_own_posted_evidence_in_the_order_it_was_fitted_on(tmp_path):
    store(tmp_path, "run_a", [SHIPPED, POSTED])
    run = load_run("run_a", tmp_path, shipped=[SHIPPED])
    assert run.evidence == (SHIPPED, POSTED)
    assert run.missing_evidence == ()
    assert run.evidence[1].reliability == 0.7 and run.evidence[1].date == dt.date(2024, 3, 1)


def test_a_run_stored_before_its_evidence_was_falls_back_to_the_shipped_items_naming_the_rest(
    tmp_path,
):
    store(tmp_path, "run_old", [SHIPPED, POSTED], with_evidence=False)
    run = load_run("run_old", tmp_path, shipped=[SHIPPED])
    assert (run.evidence, run.missing_evidence) == ((SHIPPED,), (POSTED.id,))


def test_an_unknown_run_is_an_error_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="run_nope"):
        load_run("run_nope", tmp_path)
