"""What-ifs: the draws a what-if process keeps, unreadable draws, fair shares, priority."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from litestar.testing import TestClient

from forecast.polling import wait_until
from forecast.posterior import predict
from forecast.posterior.draws import PosteriorDraws
from service.app import create_app
from service.common.errors import TooManyRequests
from service.forecasts.whatif import WhatIfs
from service.forecasts.whatif_process import RecentDraws
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
    assert recent.kept.peek(str(runs["run_a"]))._cache == {}
    np.testing.assert_array_equal(second.location, first.location)


# --- through the API: unreadable draws, fair shares, priority ------------------------


def count_calls(calls: list[str]):
    def compute(run_dir, body, dates, assume):
        calls.append(run_dir)
        raise AssertionError("computed: the unreadable draws were not remembered")

    return compute


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_unreadable_draws_are_a_503_naming_the_run_logged_once_and_not_computed_again(
    published_client, published, damage, caplog
):
    run_id = published_client.get("/forecast").json()["run_id"]
    draws = published.artifacts_dir / run_id / "draws.npz"
    content = draws.read_bytes()
    draws.write_bytes(b"not a draws file " * 100 if damage == "garbage" else content[:2000])
    caplog.set_level("ERROR")

    first = published_client.get("/forecast", params={"by": "2024-03-15"})
    assert first.status_code == 503, first.text
    assert run_id in first.json()["detail"] and "cannot be read" in first.json()["detail"]
    assert int(first.headers["retry-after"]) > 0
    what_ifs = published_client.app.state.forecasts.what_ifs
    calls: list[str] = []
    what_ifs.compute = count_calls(calls)
    for by in ("2024-03-16", "2024-03-17"):
        again = published_client.get("/forecast", params={"by": by})
        assert again.status_code == 503 and run_id in again.json()["detail"]
    assert calls == []
    logged = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(logged) == 1 and run_id in logged[0].getMessage(), logged
    assert all(r.exc_info is None for r in logged)
    assert published_client.get("/forecast").status_code == 200

    draws.write_bytes(content)  # restored: computed again
    what_ifs.compute = compute_here
    assert published_client.get("/forecast", params={"by": "2024-03-18"}).status_code == 200


def compute_here(run_dir, body, dates, assume):
    from service.forecasts.whatif_process import compute

    return compute(run_dir, body, dates, assume)


class Held:
    """A what-if computation that waits until released (in a thread)."""

    def __init__(self):
        self.release = threading.Event()

    def __call__(self, run_dir, body, dates, assume):
        assert self.release.wait(60), "never released"
        return body


def test_one_clients_what_if_flood_gets_429_and_leaves_another_client_its_share(published):
    from tests.service.conftest import AUTH

    settings = replace(published, what_if_workers=1, what_if_queue=4)  # five slots
    with TestClient(create_app(settings)) as client:
        what_ifs = client.app.state.forecasts.what_ifs
        held = Held()
        what_ifs.compute = held
        what_ifs.executor = ThreadPoolExecutor(max_workers=8)

        def ask(day: int, headers=None):
            return client.get("/forecast", params={"by": f"2024-03-{day:02d}"}, headers=headers)

        with ThreadPoolExecutor(max_workers=10) as pool:
            try:
                flood = [pool.submit(ask, day) for day in range(1, 9)]
                wait_until(lambda: sum(f.done() for f in flood) >= 4, "the flood's refusals")
                wait_until(lambda: len(what_ifs.in_flight) == 4, "the flood's share in flight")
                steady = pool.submit(ask, 20, AUTH)  # another client: the bearer token's
                wait_until(lambda: len(what_ifs.in_flight) == 5, "the steady client's what-if")
                refused = ask(21)
            finally:
                held.release.set()
            answers = [f.result() for f in flood]
            steady_answer = steady.result()
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] * 4 + [429] * 4
    for response in answers:
        if response.status_code == 429:
            assert response.headers["retry-after"] == "1"
            assert response.json()["errors"][0]["field"] == "by"
    assert refused.status_code == 429  # two clients now: the flood's share is two
    assert steady_answer.status_code == 200, steady_answer.text


def test_with_two_clients_computing_each_may_hold_two_of_five_slots():
    """Five slots, one kept for a newcomer, the other four split between the clients
    computing: a client's third what-if is refused while the other's second is served,
    although a lone client may hold four."""

    async def scenario() -> tuple[list[object], list[object]]:
        what_ifs = WhatIfs(workers=1, queue=4)
        held = Held()
        what_ifs.compute = held
        what_ifs.executor = ThreadPoolExecutor(max_workers=5)
        what_ifs.shares.wait_seconds = 0.05

        async def ask(day: int, client: str) -> object:
            try:
                await what_ifs.get(Path("runs/run_a"), b"{}", [dt.date(2024, 3, day)], {}, client)
            except TooManyRequests as refused:
                return refused.errors[0].valid
            return "answered"

        try:
            steady = [asyncio.create_task(ask(20, "steady"))]
            await asyncio.sleep(0)  # the steady client's first what-if is admitted
            assert dict(what_ifs.shares.held) == {"steady": 1}
            flood = [asyncio.create_task(ask(day, "flood")) for day in (1, 2, 3)]
            await asyncio.wait([flood[2]], timeout=5.0)  # refused once its wait ran out
            assert dict(what_ifs.shares.held) == {"steady": 1, "flood": 2}
            steady.append(asyncio.create_task(ask(21, "steady")))
            await asyncio.sleep(0)
            assert dict(what_ifs.shares.held) == {"steady": 2, "flood": 2}
        finally:
            held.release.set()
        try:
            return await asyncio.gather(*flood), await asyncio.gather(*steady)
        finally:
            what_ifs.executor.shutdown()

    flood, steady = asyncio.run(scenario())
    assert flood == ["answered", "answered", "at most 2 at once"]
    assert steady == ["answered", "answered"]


def test_a_client_at_its_share_waits_for_a_slot_and_is_answered_when_one_frees(published):
    settings = replace(published, what_if_workers=1, what_if_queue=1)  # a lone client: one
    with TestClient(create_app(settings)) as client:
        what_ifs = client.app.state.forecasts.what_ifs
        held = Held()
        what_ifs.compute = held
        what_ifs.executor = ThreadPoolExecutor(max_workers=2)
        what_ifs.shares.wait_seconds = 60.0  # never runs out here: the slot frees first
        asked: list[list] = []
        get = what_ifs.get

        async def counted(run_id, body, dates, *args, **kwargs):
            asked.append(dates)
            return await get(run_id, body, dates, *args, **kwargs)

        what_ifs.get = counted

        def ask(day: int):
            return client.get("/forecast", params={"by": f"2024-03-{day:02d}"})

        with ThreadPoolExecutor(max_workers=2) as pool:
            try:
                first = pool.submit(ask, 1)
                wait_until(lambda: len(what_ifs.in_flight) == 1, "the first what-if in flight")
                second = pool.submit(ask, 2)
                # Asked while the first is held: no slot can free before it is admitted or
                # refused (the first's end reaches the event loop only after it yields).
                wait_until(lambda: len(asked) == 2, "the second what-if asked")
            finally:
                held.release.set()
            answers = [first.result(), second.result()]
    assert [a.status_code for a in answers] == [200, 200], answers[1].text
    assert what_ifs.started == 2


def test_what_if_processes_run_at_a_lower_cpu_priority_than_the_worker(published_client):
    from service.settings import Settings

    answer = published_client.get("/forecast", params={"by": "2024-03-15"})
    assert answer.status_code == 200, answer.text
    executor = published_client.app.state.forecasts.what_ifs.executor
    (process,) = executor._processes.values()
    stat = Path(f"/proc/{process.pid}/stat").read_text()
    nice = int(stat.rsplit(")", 1)[1].split()[16])
    assert nice > Settings().worker_nice
