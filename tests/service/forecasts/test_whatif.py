"""The draws a what-if process keeps in memory: the last few runs, each loaded once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from forecast.posterior import predict
from forecast.posterior.predict import PosteriorDraws
from service.forecasts.whatif import RecentDraws
from tests.draws import make_draws


@pytest.fixture
def runs(tmp_path: Path) -> dict[str, Path]:
    """Three runs' stored draws, told apart by their success chances."""
    paths = {}
    for k, run in enumerate(("run_a", "run_b", "run_c")):
        draws = make_draws(p_success=np.full(3, 0.1 * (k + 1)))
        paths[run] = draws.save(tmp_path / run / "draws.npz")
    return paths


@pytest.fixture
def loads(monkeypatch) -> list[str]:
    """The files ``PosteriorDraws.load`` reads, in order."""
    read: list[str] = []
    load = PosteriorDraws.load

    def counted(path):
        read.append(Path(path).parent.name)
        return load(path)

    monkeypatch.setattr(PosteriorDraws, "load", counted)
    return read


def test_a_runs_draws_are_read_from_disk_once_however_often_they_are_asked_for(runs, loads):
    recent = RecentDraws(size=2)
    first = recent(runs["run_a"])
    runs["run_a"].unlink()  # answered from memory from now on
    again = [recent(runs["run_a"]) for _ in range(3)]
    assert loads == ["run_a"]
    for draws in again:
        np.testing.assert_array_equal(draws.location, first.location)
        np.testing.assert_array_equal(draws.p_success, np.full(3, 0.1))


def test_only_the_most_recently_asked_runs_are_kept(runs, loads):
    recent = RecentDraws(size=2)
    recent(runs["run_a"])
    recent(runs["run_b"])
    recent(runs["run_a"])  # run_b is now the least recently asked
    recent(runs["run_c"])
    assert list(recent.kept) == [str(runs["run_a"]), str(runs["run_c"])]
    recent(runs["run_a"])
    recent(runs["run_b"])
    assert loads == ["run_a", "run_b", "run_c", "run_b"]


def test_each_call_gets_the_draws_with_an_empty_cache_of_derived_values(runs):
    recent = RecentDraws(size=2)
    first = recent(runs["run_a"])
    predict.confirmed_ever(first, {"AA": "endorsed"})  # fills the first copy's cache
    assert first._cache
    second = recent(runs["run_a"])
    assert second._cache == {} and second._cache is not first._cache
    assert recent.kept[str(runs["run_a"])]._cache == {}
    np.testing.assert_array_equal(second.location, first.location)
