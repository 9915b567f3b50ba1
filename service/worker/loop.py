"""The worker process: owns the compiled model and turns queued runs into published forecasts.

Run as ``python -m service.worker`` (``python -m service`` starts it). Only this process
imports PyMC.
"""

from __future__ import annotations

import logging
import os
import signal
import time
import types
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from forecast.data.dataset import load_dataset
from forecast.jsonable import encode, plain
from forecast.model.gate import GateConfig, GateFailed
from forecast.pipeline.fit import Forecaster, RunResult
from forecast.pipeline.store import TIMINGS_FILE, read_json, write_evidence
from forecast.posterior.draws import DRAWS_FILE
from forecast.processes import release_free_memory
from service.common.db import wait_for_schema
from service.common.worker_status import (
    WORKER_STATUS_FILE,
    read_compile_seconds,
    remove_report,
    report_now,
    write_compile_seconds,
    write_report,
)
from service.runs import queue
from service.runs.leases import renew_every, worker_name
from service.runs.retention import prune_run_files
from service.settings import CONFIG_ERROR, Settings, settings_for_process
from service.worker.lanes import Forecasters, Lane, RoundRobin, open_lanes
from service.worker.record_builds import RecordBuilds
from service.worker.renewal import Renewal
from service.worker.writes import WorkerWrites

logger = logging.getLogger(__name__)

FIT_RAISED = "the fit raised an error; the worker's log has the details"
# Seconds a question whose model could not be built waits before it is tried again.
PARK_SECONDS = 300.0
# Seconds after a publication before the worker, finding nothing queued, writes the
# posterior archives it owes.
ARCHIVE_WHEN_IDLE_SECONDS = 1.0


class Shutdown(BaseException):
    """Raised by the SIGTERM handler during a fit, so that the run is handed back."""


class _Stop:
    """What SIGTERM has asked for; set from the signal handler."""

    requested = False
    fitting = False


def process_one(
    session_factory: sessionmaker[Session],
    forecaster: Forecaster,
    settings: Settings,
    background: Callable[..., Any] | None = None,
) -> str | None:
    """Claim the oldest queued run, fit it and record the outcome.

    Returns the run's id, or None when nothing was queued. A fit that fails the
    diagnostics gate (or raises) is recorded as failed and publishes nothing; its
    artifacts stay in ``settings.artifacts_dir / run_id`` while it is among the
    ``settings.keep_failed_runs`` newest failures, and a published run's draws while a
    what-if can be asked about it (``service.runs.retention``). A published
    run's posterior archive is written after publishing, by ``background(fn, *args)`` if
    given (the worker's ``WhenIdle.submit``: neither the next run nor its readers wait for
    it), else here.

    While it fits, a thread renews the run's lease (``settings.run_lease_seconds``); a
    worker that lost it (stalled for a whole lease: another worker took the run back)
    records nothing (``service.runs.leases``).
    """
    worker = worker_name()
    claimed = queue.claim_next(session_factory, worker)
    if claimed is None:
        return None
    run_id = claimed.run_id
    run_dir = settings.artifacts_dir / run_id
    logger.info("run %s: fitting at %s on %d items", run_id, claimed.as_of, len(claimed.evidence))
    try:
        _Stop.fitting = True
        with Renewal(session_factory, run_id, worker, renew_every(settings.run_lease_seconds)):
            result = _fit(forecaster, claimed, run_dir)
    except Shutdown:
        _Stop.fitting = False
        queue.requeue(session_factory, run_id, worker)
        raise
    except GateFailed as exc:
        _record_gate_failure(session_factory, settings, run_id, worker, exc)
        return run_id
    except Exception as exc:  # a bug or bad inputs: recorded on the run, the worker goes on
        _record_error(session_factory, settings, run_id, worker, exc)
        return run_id
    finally:
        _Stop.fitting = False
    if not _publish(session_factory, run_id, worker, result):
        return run_id  # another worker holds the run now, and its folder
    _prune(session_factory, settings)
    # The posterior's netCDF is the audit copy (the forecast is served from the draws, and
    # a seeded run can be refitted to the same draws): written after publishing so that
    # neither readers nor the next run wait for it.
    (background or (lambda fn, *args: fn(*args)))(_archive, result)
    return run_id


def _fit(forecaster: Forecaster, claimed: queue.Claimed, run_dir: Path) -> RunResult:
    """Fit a claimed run in ``run_dir``, beside the posted items it is fitted on."""
    write_evidence(run_dir, claimed.evidence)  # posted items, for readers of the run
    return forecaster.run(
        claimed.evidence,
        claimed.as_of,
        seed=claimed.seed,
        run_id=claimed.run_id,
        run_dir=run_dir,
        archive=False,
    )


def _record_gate_failure(
    session_factory: sessionmaker[Session],
    settings: Settings,
    run_id: str,
    worker: str,
    exc: GateFailed,
) -> None:
    """Record a fit that missed the gate, with its diagnostics and timings."""
    logger.warning("run %s failed the gate: %s", run_id, exc)
    timings = settings.artifacts_dir / run_id / TIMINGS_FILE  # written before the gate
    queue.fail(
        session_factory,
        run_id,
        worker,
        str(exc),
        plain(exc.diagnostics),
        read_json(timings) if timings.exists() else None,
    )
    _prune(session_factory, settings)


def _record_error(
    session_factory: sessionmaker[Session],
    settings: Settings,
    run_id: str,
    worker: str,
    exc: Exception,
) -> None:
    """Record a fit that raised: the log has the traceback, the run only the error's type."""
    # The message may hold server paths or data: the log has it, the API only the type.
    logger.exception("run %s raised", run_id)
    queue.fail(session_factory, run_id, worker, f"{type(exc).__name__}: {FIT_RAISED}")
    _prune(session_factory, settings)


def _publish(
    session_factory: sessionmaker[Session], run_id: str, worker: str, result: RunResult
) -> bool:
    """Publish a fit that passed the gate: its document, diagnostics and timings; False
    when ``worker`` had lost the run (nothing published)."""
    document_json = encode(result.document).decode()
    published = queue.publish(
        session_factory,
        run_id,
        worker,
        result.document,
        document_json,
        plain(result.diagnostics),
        plain(result.timings),
    )
    if not published:
        return False
    logger.info("run %s published (%.2f s)", run_id, result.timings.get("total_seconds", 0.0))
    return True


def _prune(session_factory: sessionmaker[Session], settings: Settings) -> None:
    """Delete the files no run needs any more (``service.runs.retention``)."""
    prune_run_files(
        session_factory,
        settings.artifacts_dir,
        settings.keep_failed_runs,
        settings.keep_runs_per_cut_off,
    )


def _archive(result: RunResult) -> None:
    """Write a published run's posterior archive, the last step of a run; then hand the
    memory the run freed back to the system. A run whose draws retention has deleted
    meanwhile (superseded at its cut-off) keeps no archive either."""
    try:
        if (result.run_dir / DRAWS_FILE).exists():
            result.archive()
    except Exception:  # logged; the published forecast stands
        logger.exception("run %s: the posterior archive could not be written", result.run_id)
    finally:
        release_free_memory()


class WhenIdle:
    """Jobs started on ``executor`` once the worker finds nothing queued, ``idle_seconds``
    or more after the last job was kept (a run published).

    The worker's posterior archives: writing one (h5netcdf, about 1 s on these 2 cores)
    beside the next fit made that fit 0.6-1.0 s slower, so evidence posted right after a
    publication waited for the audit copy of the one before. ``flush`` starts the jobs
    left at a stop.
    """

    def __init__(self, executor: ThreadPoolExecutor, idle_seconds: float):
        self.executor, self.idle_seconds = executor, idle_seconds
        self.jobs: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        self.busy_at = time.monotonic()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Keep ``fn(*args)`` for the next idle moment (``process_one``'s ``background``)."""
        self.jobs.append((fn, args))
        self.busy_at = time.monotonic()

    def when_idle(self) -> None:
        """Start the kept jobs if the last was kept ``idle_seconds`` ago or more (called
        when nothing is queued)."""
        if self.jobs and time.monotonic() - self.busy_at >= self.idle_seconds:
            self.flush()

    def flush(self) -> None:
        jobs, self.jobs = self.jobs, []
        for fn, args in jobs:
            self.executor.submit(fn, *args)


def make_forecaster(settings: Settings) -> Forecaster:
    """The dataset's forecaster with the settings' model, sampler and gate overrides."""
    return Forecaster(
        load_dataset(settings.data_dir),
        model_config=dict(settings.model_config) or None,
        sampler_config=dict(settings.sampler_config) or None,
        gate=GateConfig(**settings.gate_config),
    )


def serve(
    settings: Settings, forecaster_for: Callable[[Settings], Forecaster] = make_forecaster
) -> int:
    """Compile the default question's model, wait for every question's schema, recover
    interrupted runs, then fit queued runs, question by question in turn, until SIGTERM;
    the exit code.

    ``forecaster_for`` makes a question's forecaster from the settings with its data
    directory (``make_forecaster``; the worker's entry point passes no other)."""
    try:
        lanes = open_lanes(settings)
        default = lanes[0]
        forecaster = forecaster_for(default.settings)
    except (TypeError, ValueError) as exc:  # FORECAST_GATE_CONFIG, the data, the questions
        logger.error("the worker cannot start: %s", exc)
        return CONFIG_ERROR
    status_path = settings.artifacts_dir / WORKER_STATUS_FILE
    expected = read_compile_seconds(settings.artifacts_dir)
    write_report(status_path, report_now(phase="compiling", expected_seconds=expected))
    try:
        compile_seconds = forecaster.compile()
    except BaseException:  # no report of a compile that will not finish
        remove_report(status_path)
        raise
    logger.info("compiled the model in %.1f s", compile_seconds)
    write_compile_seconds(settings.artifacts_dir, compile_seconds)
    write_report(status_path, report_now())
    forecasters = Forecasters(forecaster_for, settings.worker_models)
    forecasters.put(default.slug, forecaster)
    try:
        for lane in lanes:
            if not wait_for_schema(lane.database, settings.poll_seconds, lambda: _Stop.requested):
                remove_report(status_path)
                logger.info("worker stopped")
                return 0
            _attempt(lane.writes.ready, lane.writes)  # runs left running by a worker that died
        logger.info(
            "worker ready (pid %d) for %d question(s), polling every %.2f s",
            os.getpid(),
            len(lanes),
            settings.poll_seconds,
        )
        _serve_lanes(lanes, forecasters, settings)
    finally:
        for lane in lanes:
            lane.writes.stopped()
            lane.close()
    logger.info("worker stopped")
    return 0


def fit_in_turn(
    turns: RoundRobin,
    forecasters: Forecasters,
    seed: int,
    background: Callable[..., Any] | None = None,
) -> Lane | None:
    """Fit one queued run of the first question, in turn, that has one: the lane whose
    run was processed (it goes to the back of the turns), or None when nothing is queued."""
    for lane in turns:
        if _attempt(lambda lane=lane: _fit_lane(lane, forecasters, seed, background), lane.writes):
            turns.served(lane)
            return lane
    return None


def _fit_lane(
    lane: Lane, forecasters: Forecasters, seed: int, background: Callable[..., Any] | None
) -> bool:
    """Whether a run of ``lane`` was processed (its live clock followed first)."""
    if not lane.writes.ready():
        return False
    queue.follow_clock(lane.database, lane.dataset, seed)
    if lane.parked() or not lane.has_queued():
        return False
    try:
        forecaster = forecasters.get(lane)
    except Exception as exc:  # its data, its config or the compile: the other questions go on
        _park(lane, exc)
        return False
    return process_one(lane.database.sessions, forecaster, lane.settings, background) is not None


def _park(lane: Lane, exc: Exception) -> None:
    """A question whose model cannot be built: its next run is failed with the reason's
    type (the log has the traceback), and the question waits ``PARK_SECONDS`` before its
    model is tried again; the other questions are served meanwhile."""
    logger.exception(
        "%s: its model could not be built; next try in %.0f s", lane.slug, PARK_SECONDS
    )
    lane.parked_until = time.monotonic() + PARK_SECONDS
    worker = worker_name()
    claimed = queue.claim_next(lane.database.sessions, worker)
    if claimed is not None:
        reason = f"{type(exc).__name__}: the question's model could not be built; {FIT_RAISED}"
        queue.fail(lane.database.sessions, claimed.run_id, worker, reason)


def _serve_lanes(lanes: list[Lane], forecasters: Forecasters, settings: Settings) -> None:
    """Fit queued runs, the questions in turn (``fit_in_turn``), until SIGTERM; when none
    is queued, write the posterior archives owed and keep the track record current."""
    archiver = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive")
    archives = WhenIdle(archiver, ARCHIVE_WHEN_IDLE_SECONDS)
    builds = RecordBuilds(
        settings.track_record,
        [lane.place.directory for lane in lanes],
        settings.artifacts_dir,
        enabled=settings.track_record_build,
    )
    turns = RoundRobin(lanes)
    try:
        while not _Stop.requested:
            if fit_in_turn(turns, forecasters, settings.seed, archives.submit) is None:
                archives.when_idle()
                builds.when_idle()
                time.sleep(settings.poll_seconds)
    except Shutdown:
        pass
    finally:
        builds.stop()
        archives.flush()
        archiver.shutdown(wait=True)


def _attempt(step: Callable[[], bool], writes: WorkerWrites) -> bool:
    """``step()``; False when the database failed it (reported to ``writes``)."""
    try:
        return step()
    except OperationalError as exc:  # files read-only, disk full, the server gone
        writes.failed(exc)
        return False


def main() -> int:
    settings = settings_for_process("worker")
    if settings is None:
        return CONFIG_ERROR
    _lower_priority(settings.worker_nice)
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, _on_sigterm)
    return serve(settings)


def _on_sigterm(_signum: int, _frame: types.FrameType | None) -> None:
    _Stop.requested = True
    if _Stop.fitting:
        raise Shutdown


def _lower_priority(nice: int) -> None:
    """Run this worker, every thread of it, at CPU priority ``nice`` (never raised).

    On Linux a priority belongs to a thread, and threads started at import (BLAS, numba)
    already exist: each one is set; the sampler's threads, started later, inherit it.
    """
    tasks = Path("/proc/self/task")
    tids = [int(t) for t in os.listdir(tasks)] if tasks.is_dir() else [0]
    for tid in tids:
        try:
            if os.getpriority(os.PRIO_PROCESS, tid) < nice:
                os.setpriority(os.PRIO_PROCESS, tid, nice)
        except OSError:  # the thread has ended meanwhile
            continue
    logger.info("worker CPU priority: nice %d", nice)
