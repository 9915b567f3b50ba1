"""Files written whole or not at all (``forecast.files.replacing``), and the draws the
API reads written that way."""

from __future__ import annotations

import numpy as np
import pytest

from forecast.files import replacing
from forecast.posterior import predict
from tests.forecast.posterior.test_consensus_predict import two_allies


def test_a_file_is_replaced_whole_or_left_as_it_was(tmp_path):
    path = tmp_path / "folder" / "doc.json"
    with replacing(path) as partial:
        partial.write_text("first")
        assert not path.exists()  # nothing at the path until the block ends
    assert path.read_text() == "first"
    with pytest.raises(RuntimeError), replacing(path) as partial:
        partial.write_text("half of the sec")
        raise RuntimeError("the writer died")
    assert path.read_text() == "first"
    assert sorted(p.name for p in path.parent.iterdir()) == ["doc.json"]


def test_draws_interrupted_while_saved_leave_the_last_draws_readable(tmp_path, monkeypatch):
    """The API reads ``draws.npz`` while a run may be replacing it: a save that fails
    half-way leaves the previous draws whole and no partial file."""
    draws = two_allies()
    path = draws.save(tmp_path / "draws.npz")
    real_savez = np.savez

    def dies_half_way(handle, **arrays):
        real_savez(handle, **arrays)
        handle.truncate(handle.tell() // 2)
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", dies_half_way)
    with pytest.raises(OSError):
        draws.save(path)
    monkeypatch.undo()
    loaded = predict.PosteriorDraws.load(path)
    np.testing.assert_array_equal(loaded.p_endorse, draws.p_endorse)
    assert [p.name for p in tmp_path.iterdir()] == ["draws.npz"]
