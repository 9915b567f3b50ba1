"""What-ifs (``?by=``, ``?assume=``): computed once per key, in a small pool of processes,
never queued without bound.

A what-if costs 0.1-0.25 s of CPU, and its key space is as large as a client likes. So:

- concurrent requests for the same uncached key share one computation (single flight);
- at most ``workers + queue`` computations are admitted at once; a request beyond that
  gets 503 with ``Retry-After`` at once instead of waiting in an unbounded queue;
- computations run in separate processes at a lower CPU priority, so they never hold the
  API process's interpreter lock: the cached forecast and ``/health`` keep their speed;
- each process keeps the draws of the last few runs it was asked about in memory (bounded
  by runs, not by keys); finished answers are cached by key like any forecast.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import multiprocessing
import os
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import msgspec

from forecast.posterior.document import encode, rerender
from forecast.posterior.predict import PosteriorDraws
from service.common.errors import Busy, Unavailable
from service.common.schemas import ProblemError

logger = logging.getLogger(__name__)

# Answers kept (each a few tens of kB): the common what-ifs stay cached.
CACHE_SIZE = 256
# Runs whose draws a what-if process keeps in memory (a few MB each).
DRAWS_RUNS = 4
# CPU priority of the what-if processes: below the API (readers first), above the worker.
WHAT_IF_NICE = 5
RETRY_AFTER_SECONDS = 1

Key = tuple[str, tuple[dt.date, ...], tuple[tuple[str, str], ...]]


class MissingDraws(Exception):
    """The run's stored draws are gone: only its published forecast can be served."""


def what_if_key(run_id: str, dates: list[dt.date], assume: dict[str, str]) -> Key:
    return (run_id, tuple(dates), tuple(sorted(assume.items())))


class WhatIfs:
    """Single-flight, bounded computation of what-if documents for one API process.

    Used from the event loop only (no locks needed): ``get`` answers from the cache,
    joins a computation in flight, or starts one if there is room.
    """

    def __init__(self, artifacts_dir: Path, workers: int = 1, queue: int = 4):
        self.artifacts_dir = artifacts_dir
        self.workers = workers
        self.capacity = workers + queue
        self.cache: OrderedDict[Key, bytes] = OrderedDict()
        self.in_flight: dict[Key, asyncio.Future[bytes]] = {}
        # Requests that waited on each computation in flight, and computations started.
        self.joined: dict[Key, int] = {}
        self.started = 0
        # What runs a computation, and where; tests replace them.
        self.compute: Callable[..., bytes] = compute
        self.executor: Executor | None = None
        self.tasks: set[asyncio.Task[None]] = set()  # referenced until done

    async def get(self, run_id: str, body: bytes, dates: list[dt.date], assume: dict) -> bytes:
        """The what-if document's bytes.

        Raises
        ------
        Busy
            Every computation slot is taken (503 with ``Retry-After``).
        Unavailable
            The run's draws are missing, or the what-if process died.
        """
        key = what_if_key(run_id, dates, assume)
        if key in self.cache:
            self.cache.move_to_end(key)
            return self.cache[key]
        future = self.in_flight.get(key)
        if future is None:
            if len(self.in_flight) >= self.capacity:
                raise Busy(
                    f"{len(self.in_flight)} what-ifs are being computed (the limit); try again "
                    "shortly, or ask for the forecast without by/assume",
                    [ProblemError("by", "cannot be computed now", "retry after 1 s")],
                    retry_after=RETRY_AFTER_SECONDS,
                )
            future = asyncio.get_running_loop().create_future()
            self.in_flight[key] = future
            self.joined[key] = 0
            self.started += 1
            task = asyncio.create_task(self._run(key, future, body, dates, assume))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        self.joined[key] += 1
        # shield: a client that disconnects does not cancel the others' computation.
        return await asyncio.shield(future)

    async def _run(
        self, key: Key, future: asyncio.Future[bytes], body: bytes, dates: list, assume: dict
    ) -> None:
        run_dir = str(self.artifacts_dir / key[0])
        try:
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(
                self._executor(), self.compute, run_dir, body, dates, assume
            )
        except MissingDraws:
            logger.error("run %s has no stored draws in %s", key[0], run_dir)
            field = "by" if dates else "assume"
            future.set_exception(
                Unavailable(
                    f"the stored draws of run {key[0]} are missing: only the published "
                    "forecast can be served",
                    [ProblemError(field, "cannot be computed for this run", "omit it")],
                )
            )
        except BrokenProcessPool:
            logger.error("a what-if process died; starting a new pool")
            self.executor = None
            future.set_exception(Unavailable("the what-if computation failed; try again"))
        except Exception as exc:  # a bug: logged, answered as a 500 without internals
            logger.exception("what-if %s failed", key)
            future.set_exception(exc)
        else:
            self.cache[key] = result
            while len(self.cache) > CACHE_SIZE:
                self.cache.popitem(last=False)
            future.set_result(result)
        finally:
            del self.in_flight[key]
            del self.joined[key]
        future.exception()  # retrieved: no "never retrieved" warning when nobody waits

    def _executor(self) -> Executor:
        if self.executor is None:
            self.executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_process,
            )
        return self.executor

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.executor = None


# --- in the what-if processes -------------------------------------------------------


class RecentDraws:
    """Loads runs' draws, keeping the last ``size`` runs in memory.

    A what-if process runs nothing else, so it keeps the draws of the runs it was asked
    about. Each call gets a copy with a fresh derived-value cache: that cache grows with
    every ``assume`` it sees, so it is not kept between calls.
    """

    def __init__(self, size: int = DRAWS_RUNS):
        self.size = size
        self.kept: OrderedDict[str, PosteriorDraws] = OrderedDict()

    def __call__(self, path: Path) -> PosteriorDraws:
        key = str(path)
        if key not in self.kept:
            self.kept[key] = PosteriorDraws.load(path)
            while len(self.kept) > self.size:
                self.kept.popitem(last=False)
        self.kept.move_to_end(key)
        return dataclasses.replace(self.kept[key], _cache={})


# This process's loader: one per what-if process (set by ``_start_process``); a caller
# that computes in its own process reads draws from disk each time.
_recent_draws: RecentDraws | None = None


def _start_process() -> None:
    """Lower this process's priority and keep recently used draws in memory."""
    global _recent_draws
    try:
        os.setpriority(os.PRIO_PROCESS, 0, max(os.getpriority(os.PRIO_PROCESS, 0), WHAT_IF_NICE))
    except OSError:
        logger.warning("could not lower the what-if process's priority")
    _recent_draws = RecentDraws()


def compute(run_dir: str, body: bytes, dates: list[dt.date], assume: dict[str, str]) -> bytes:
    """The stored document ``body`` recomputed with extra deadlines and what-if outcomes."""
    load_draws = _recent_draws or PosteriorDraws.load
    try:
        document = rerender(
            run_dir, msgspec.json.decode(body), by=dates, assume=assume, load_draws=load_draws
        )
    except FileNotFoundError:
        raise MissingDraws(run_dir) from None
    return encode(document)
