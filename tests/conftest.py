"""Session fixtures shared by every test package: the synthetic dataset and one compiled fit."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from forecast.data.dataset import Dataset, load_dataset
from forecast.pipeline.fit import Forecaster, RunResult
from tests.synthetic import write_dataset

# The synthetic data's opening date, the cut-off of the shared fit.
SYNTHETIC_AS_OF = dt.date(2024, 2, 22)
SYNTHETIC_SEED = 20240222


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the 7-ally synthetic dataset (``tests/synthetic.py``); do not edit it."""
    return write_dataset(tmp_path_factory.mktemp("synthetic") / "data")


@pytest.fixture(scope="session")
def synthetic_dataset(synthetic_dir: Path) -> Dataset:
    """The synthetic dataset, loaded and validated."""
    return load_dataset(synthetic_dir)


@pytest.fixture(scope="session")
def synthetic_forecaster(synthetic_dataset: Dataset) -> Forecaster:
    """One Forecaster for the session: the model compiles once (about 30 s), later fits reuse it.

    Its model holds whatever the last test fitted: read ``forecaster.model`` only right
    after your own ``fit``/``run``.
    """
    return Forecaster(synthetic_dataset)


@pytest.fixture(scope="session")
def synthetic_run(
    synthetic_forecaster: Forecaster,
    synthetic_dataset: Dataset,
    tmp_path_factory: pytest.TempPathFactory,
) -> RunResult:
    """A published run on the shipped synthetic evidence at 2024-02-22 (default sampler)."""
    run_dir = tmp_path_factory.mktemp("synthetic_run") / "run"
    return synthetic_forecaster.run(
        synthetic_dataset.evidence,
        SYNTHETIC_AS_OF,
        seed=SYNTHETIC_SEED,
        run_id="run_synthetic",
        run_dir=run_dir,
    )
