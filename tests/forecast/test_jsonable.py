"""Values as JSON (``forecast.jsonable``): numpy numbers stay numbers wherever they are
written, a run's files, the service's responses and its JSON columns alike."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from forecast.jsonable import encode, plain
from forecast.pipeline.store import read_json, write_json

NUMPY_VALUES = {
    "draws": np.int64(700),
    "chains": np.int32(4),
    "r_hat_max": np.float64(1.0061),
    "share": np.float32(0.5),
    "passed": np.bool_(True),
    "counts": np.array([[1, 2], [3, 4]]),
    "interval": (np.float64(0.25), 0.75),
    "run_dir": Path("/var/runs/run_1"),
    7: "an integer key",
}
AS_JSON = {
    "draws": 700,
    "chains": 4,
    "r_hat_max": 1.0061,
    "share": 0.5,
    "passed": True,
    "counts": [[1, 2], [3, 4]],
    "interval": [0.25, 0.75],
    "run_dir": "/var/runs/run_1",
    "7": "an integer key",
}


def test_numpy_numbers_arrays_and_paths_are_encoded_as_json_numbers_lists_and_text():
    assert json.loads(encode(NUMPY_VALUES)) == AS_JSON
    assert plain(NUMPY_VALUES) == AS_JSON


def test_not_a_number_is_written_as_null():
    assert encode({"ess_bulk_min": np.float64(np.nan), "r_hat": [np.inf]}) == (
        b'{"ess_bulk_min":null,"r_hat":[null]}'
    )


def test_a_runs_json_file_holds_numpy_integers_as_numbers(tmp_path):
    write_json(tmp_path / "diagnostics.json", NUMPY_VALUES)
    assert read_json(tmp_path / "diagnostics.json") == AS_JSON
