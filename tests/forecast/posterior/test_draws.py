"""Posterior draws as stored (``forecast.posterior.draws``): the file the API reads."""

from __future__ import annotations

import numpy as np
import pytest

from forecast.posterior.draws import PosteriorDraws
from tests.forecast.posterior.test_consensus_predict import two_allies


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
    loaded = PosteriorDraws.load(path)
    np.testing.assert_array_equal(loaded.p_endorse, draws.p_endorse)
    assert [p.name for p in tmp_path.iterdir()] == ["draws.npz"]
