"""What-ifs (``?by=``, ``?assume=``): computed once per key, in a small pool of processes,
never queued without bound.

A what-if costs 0.1-0.25 s of CPU, and its key space is as large as a client likes. So:

- concurrent requests for the same uncached key share one computation (single flight);
- at most ``workers + queue`` computations are admitted at once; a request beyond that
  gets 503 with ``Retry-After`` at once instead of waiting in an unbounded queue;
- the slots are shared per client (``shares.Shares``): a client may hold at most its
  share of them, so one client's flood leaves the others theirs; a client at its share
  waits up to ``SHARE_WAIT_SECONDS`` for a slot to free, then gets 429 with
  ``Retry-After``;
- computations run in separate processes at a lower CPU priority than the API and the
  worker, so they never hold the API process's interpreter lock and never delay a
  publication; each dies with the API process (``die_with_parent``);
- a run whose draws are missing or cannot be read is remembered (with the file's size and
  time) and answered 503 at once, logged once, until the file changes
  (``unavailable.UnavailableDraws``);
- each process keeps the draws of the last few runs it was asked about in memory (bounded
  by runs, not by keys: ``whatif_process``); finished answers are cached by key like any
  forecast.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from forecast.lru import Lru
from service.common.errors import Busy, Unavailable
from service.common.schemas import ProblemError
from service.forecasts.shares import RETRY_AFTER_SECONDS, Shares
from service.forecasts.unavailable import UnavailableDraws
from service.forecasts.whatif_process import MissingDraws, compute, start_process

logger = logging.getLogger(__name__)

# Answers kept (each a few tens of kB): the common what-ifs stay cached.
CACHE_SIZE = 256

Key = tuple[str, tuple[dt.date, ...], tuple[tuple[str, str], ...]]


def what_if_key(run_dir: str, dates: list[dt.date], assume: dict[str, str]) -> Key:
    """A what-if: the run's folder (a question's run), its dates and its assumptions."""
    return (run_dir, tuple(dates), tuple(sorted(assume.items())))


class WhatIfs:
    """Single-flight, bounded computation of what-if documents for one API process, for
    every question it serves (one pool, one bound, one share per client: a client cannot
    take more by asking about several questions).

    Used from the event loop only (no locks needed): ``get`` answers from the cache,
    joins a computation in flight, or starts one if there is room and the client is
    within its share (``shares``).
    """

    def __init__(self, workers: int = 1, queue: int = 4):
        self.workers = workers
        self.capacity = workers + queue
        self.cache: Lru[Key, bytes] = Lru(CACHE_SIZE)
        self.in_flight: dict[Key, asyncio.Future[bytes]] = {}
        self.shares = Shares(self.capacity)
        self.owners: dict[Key, str] = {}  # the client that started each computation
        self.unavailable = UnavailableDraws()
        # Requests that waited on each computation in flight, and computations started.
        self.joined: dict[Key, int] = {}
        self.started = 0
        # What runs a computation, and where; tests replace them.
        self.compute: Callable[..., bytes] = compute
        self.executor: Executor | None = None
        self.tasks: set[asyncio.Task[None]] = set()  # referenced until done

    async def get(
        self,
        run_dir: Path,
        body: bytes,
        dates: list[dt.date],
        assume: dict,
        client: str = "anonymous",
    ) -> bytes:
        """The what-if document's bytes for the run stored in ``run_dir``; ``client``
        names who asks (``Shares``).

        Raises
        ------
        Busy
            Every computation slot is taken (503 with ``Retry-After``).
        TooManyRequests
            ``client`` held its share of the slots for ``shares.wait_seconds`` (429 with
            ``Retry-After``).
        Unavailable
            The run's draws are missing or unreadable, or the what-if process died.
        """
        key = what_if_key(str(run_dir), dates, assume)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.shares.wait_seconds
        # Each pass answers from the cache, joins the computation in flight or starts one;
        # a client at its share waits for a slot (another request may meanwhile have
        # started or finished this key: looked at again).
        while (future := self.in_flight.get(key)) is None:
            cached = self.cache.get(key)
            if cached is not None:
                return cached
            self.unavailable.check(run_dir)
            if self.shares.has_room(client):
                future = self._start(key, client, body, dates, assume)
                break
            if not await self.shares.wait_for_slot(deadline - loop.time()):
                raise self.shares.refused(client)
        self.joined[key] += 1
        # shield: a client that disconnects does not cancel the others' computation.
        return await asyncio.shield(future)

    def _start(
        self, key: Key, client: str, body: bytes, dates: list, assume: dict
    ) -> asyncio.Future:
        """Start computing ``key`` for ``client`` (within its share), unless every slot is
        taken (``Busy``)."""
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
        self.owners[key] = client
        self.shares.take(client)
        self.started += 1
        task = asyncio.create_task(self._run(key, future, body, dates, assume))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return future

    async def _run(
        self, key: Key, future: asyncio.Future[bytes], body: bytes, dates: list, assume: dict
    ) -> None:
        run_dir = key[0]
        try:
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(
                self._executor(), self.compute, run_dir, body, dates, assume
            )
        except MissingDraws as exc:
            future.set_exception(
                self.unavailable.remember(Path(run_dir), exc, "by" if dates else "assume")
            )
        except BrokenProcessPool:
            logger.error("a what-if process died; starting a new pool")
            self.executor = None
            future.set_exception(Unavailable("the what-if computation failed; try again"))
        except Exception as exc:  # a bug: logged, answered as a 500 without internals
            logger.exception("what-if %s failed", key)
            future.set_exception(exc)
        else:
            self.cache.put(key, result)
            future.set_result(result)
        finally:
            del self.in_flight[key]
            del self.joined[key]
            self.shares.give_back(self.owners.pop(key))
        future.exception()  # retrieved: no "never retrieved" warning when nobody waits

    def _executor(self) -> Executor:
        if self.executor is None:
            self.executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=start_process,
                initargs=(os.getpid(),),
            )
        return self.executor

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.executor = None
