"""``Forecaster.forecast``: the document ``run`` stores, made without writing a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from forecast.model.gate import GateConfig, GateFailed
from forecast.pipeline.store import DEFAULT_RUNS_DIR
from tests.conftest import SYNTHETIC_AS_OF, SYNTHETIC_SEED


def numbers(document: dict) -> dict:
    """The document bar when it was made and how long its sampling took."""
    diagnostics = {k: v for k, v in document["diagnostics"].items() if k != "sample_seconds"}
    kept = {k: v for k, v in document.items() if k != "published_at"}
    return {**kept, "diagnostics": diagnostics}


def files_under(folder: Path) -> set[Path]:
    return set(folder.rglob("*")) if folder.exists() else set()


def test_forecast_returns_the_document_run_stores_for_the_same_seed(
    synthetic_run, synthetic_forecaster, synthetic_dataset
):
    document = synthetic_forecaster.forecast(
        synthetic_dataset.evidence, SYNTHETIC_AS_OF, seed=SYNTHETIC_SEED, run_id="run_synthetic"
    )
    assert numbers(document) == numbers(synthetic_run.document)


def test_forecast_writes_no_file(synthetic_forecaster, synthetic_dataset, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runs_before = files_under(DEFAULT_RUNS_DIR)
    document = synthetic_forecaster.forecast(
        synthetic_dataset.evidence, SYNTHETIC_AS_OF, seed=SYNTHETIC_SEED
    )
    assert document["run_id"].startswith("run_")  # a new id when none is given
    assert list(tmp_path.iterdir()) == []
    assert files_under(DEFAULT_RUNS_DIR) == runs_before


def test_a_forecast_that_fails_the_gate_raises_and_writes_no_file(
    synthetic_forecaster, synthetic_dataset, tmp_path, monkeypatch
):
    monkeypatch.setattr(synthetic_forecaster, "gate", GateConfig(ess_bulk_min=1e9))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(GateFailed) as caught:
        synthetic_forecaster.forecast(
            synthetic_dataset.evidence, SYNTHETIC_AS_OF, seed=SYNTHETIC_SEED
        )
    assert caught.value.diagnostics["attempts"] == 2
    assert list(tmp_path.iterdir()) == []
