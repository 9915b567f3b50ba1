"""Run folders: the latest published run, and a posterior archived after publishing."""

from __future__ import annotations

from forecast.pipeline.store import (
    DIAGNOSTICS_FILE,
    DOCUMENT_FILE,
    POSTERIOR_FILE,
    latest_published,
    write_json,
)
from tests.conftest import SYNTHETIC_AS_OF, SYNTHETIC_SEED


def _run(root, name, published_at, passed=True, archived=False, question="Q?"):
    folder = root / name
    write_json(folder / DOCUMENT_FILE, {"published_at": published_at, "question": question})
    write_json(folder / DIAGNOSTICS_FILE, {"passed": passed})
    if archived:
        (folder / POSTERIOR_FILE).write_bytes(b"")
    return folder


def test_latest_published_skips_failed_runs_and_optionally_unarchived_ones(tmp_path):
    old = _run(tmp_path, "a", "2024-02-22T10:00:00+00:00", archived=True)
    newer = _run(tmp_path, "b", "2024-02-22T11:00:00+00:00")
    _run(tmp_path, "c", "2024-02-22T12:00:00+00:00", passed=False, archived=True)
    assert latest_published(tmp_path) == newer
    assert latest_published(tmp_path, archived=True) == old
    assert latest_published(tmp_path / "none") is None


def test_latest_published_of_a_question_skips_other_questions_runs(tmp_path):
    ours = _run(tmp_path, "a", "2024-02-22T10:00:00+00:00")
    theirs = _run(tmp_path, "b", "2024-02-22T11:00:00+00:00", question="Another?")
    assert latest_published(tmp_path) == theirs
    assert latest_published(tmp_path, question="Q?") == ours
    assert latest_published(tmp_path, question="Unknown?") is None


def test_a_deferred_archive_is_written_by_archive_and_only_then(
    synthetic_forecaster, synthetic_dataset, tmp_path
):
    result = synthetic_forecaster.run(
        synthetic_dataset.evidence,
        SYNTHETIC_AS_OF,
        seed=SYNTHETIC_SEED,
        run_id="run_deferred",
        run_dir=tmp_path / "run",
        archive=False,
    )
    assert (tmp_path / "run" / DOCUMENT_FILE).exists()
    assert not (tmp_path / "run" / POSTERIOR_FILE).exists()
    assert latest_published(tmp_path, archived=True) is None
    assert result.archive() == tmp_path / "run" / POSTERIOR_FILE
    assert latest_published(tmp_path, archived=True) == tmp_path / "run"
    assert not list((tmp_path / "run").glob("*.partial"))
