"""One worker, several questions: their runs are fitted in turn, and the worker keeps a
bounded set of compiled models, saying which it evicts."""

from __future__ import annotations

import datetime as dt
import logging

from forecast.data.dataset import load_dataset
from forecast.model.gate import GateConfig
from service.common.tables import RunRow
from service.runs import queue
from service.runs.queue import in_transaction
from service.worker.lanes import Forecasters, RoundRobin, open_lanes
from service.worker.loop import fit_in_turn
from tests.service.conftest import GATE_CONFIG, SAMPLER_CONFIG
from tests.stand_in import StandInForecaster


class Made:
    """Stand-in forecasters for each question, counted as they are made."""

    def __init__(self) -> None:
        self.made: list[str] = []

    def __call__(self, settings):
        self.made.append(settings.data_dir.name)
        dataset = load_dataset(settings.data_dir)
        return StandInForecaster(
            dataset, sampler_config=SAMPLER_CONFIG, gate=GateConfig(**GATE_CONFIG)
        )


def queue_manual(lane, day: int) -> str:
    return in_transaction(
        lane.database.sessions,
        lambda s: queue.queue_run(s, as_of=dt.date(2024, 3, day), seed=1, trigger="manual").id,
    )


def test_a_flooded_question_does_not_delay_anothers_run_by_more_than_one_fit(several):
    lanes = open_lanes(several)
    _, alpha, beta = lanes
    for day in range(1, 5):
        queue_manual(alpha, day)
    beta_run = queue_manual(beta, 1)  # queued after alpha's four
    forecasters = Forecasters(Made(), limit=3)
    turns = RoundRobin(lanes)
    order = []
    while (lane := fit_in_turn(turns, forecasters, several.seed)) is not None:
        order.append(lane.slug)
    assert order == ["alpha", "beta", "alpha", "alpha", "alpha"]
    with beta.database.reader() as session:
        assert session.get(RunRow, beta_run).status == "succeeded"
    for lane in lanes:
        lane.close()


def test_the_worker_keeps_at_most_its_limit_of_compiled_models_and_says_which_it_evicts(
    several, caplog
):
    caplog.set_level(logging.INFO)
    lanes = open_lanes(several)
    _, alpha, beta = lanes
    made = Made()
    forecasters = Forecasters(made, limit=1)
    for lane in (alpha, alpha, beta, alpha):
        forecasters.get(lane)
    assert made.made == ["alpha-data", "beta-data", "alpha-data"]
    assert list(forecasters.kept) == ["alpha"]
    assert "evicted the compiled model of alpha" in caplog.text
    assert "evicted the compiled model of beta" in caplog.text
    for lane in lanes:
        lane.close()


def test_an_idle_question_costs_no_query_until_another_connection_commits(several, monkeypatch):
    lanes = open_lanes(several)
    alpha = lanes[1]
    looks = []
    real = queue.has_queued
    monkeypatch.setattr(queue, "has_queued", lambda reader: looks.append(1) or real(reader))
    assert not alpha.has_queued()
    assert not alpha.has_queued() and not alpha.has_queued()
    assert len(looks) == 1  # nothing committed since the queue was found empty
    run_id = queue_manual(alpha, 2)  # a commit on another connection
    assert alpha.has_queued()
    assert alpha.has_queued()  # still queued: looked again
    assert len(looks) == 3
    forecasters = Forecasters(Made(), limit=3)
    assert fit_in_turn(RoundRobin([alpha]), forecasters, several.seed) is alpha
    with alpha.database.reader() as session:
        assert session.get(RunRow, run_id).status == "succeeded"
    assert not alpha.has_queued()
    for lane in lanes:
        lane.close()


class Broken(Made):
    """Alpha's model cannot be built."""

    def __call__(self, settings):
        if settings.data_dir.name == "alpha-data":
            raise ValueError("alpha's model cannot be built")
        return super().__call__(settings)


def test_a_question_whose_model_cannot_be_built_fails_its_run_and_the_others_go_on(several, caplog):
    lanes = open_lanes(several)
    _, alpha, beta = lanes
    alpha_run, beta_run = queue_manual(alpha, 1), queue_manual(beta, 1)
    forecasters = Forecasters(Broken(), limit=3)
    turns = RoundRobin(lanes)
    served = [fit_in_turn(turns, forecasters, several.seed) for _ in range(3)]
    assert [lane.slug if lane else None for lane in served] == ["beta", None, None]
    assert alpha.parked()
    assert "alpha: its model could not be built" in caplog.text
    with alpha.database.reader() as session:
        run = session.get(RunRow, alpha_run)
        assert run.status == "failed"
        assert run.error.startswith("ValueError: the question's model could not be built")
    with beta.database.reader() as session:
        assert session.get(RunRow, beta_run).status == "succeeded"
    for lane in lanes:
        lane.close()
