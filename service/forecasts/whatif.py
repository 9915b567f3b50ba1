"""What-ifs (``?by=``, ``?assume=``): computed once per key, in a small pool of processes,
never queued without bound.

A what-if costs 0.1-0.25 s of CPU, and its key space is as large as a client likes. So:

- concurrent requests for the same uncached key share one computation (single flight);
- at most ``workers + queue`` computations are admitted at once; a request beyond that
  gets 503 with ``Retry-After`` at once instead of waiting in an unbounded queue;
- the slots are shared per client (``service.http.clients``): a client may hold at most
  its share of them, so one client's flood leaves the others theirs; a client at its share
  waits up to ``SHARE_WAIT_SECONDS`` for a slot to free, then gets 429 with
  ``Retry-After``;
- computations run in separate processes at a lower CPU priority than the API and the
  worker, so they never hold the API process's interpreter lock and never delay a
  publication; each dies with the API process (``die_with_parent``);
- a run whose draws are missing or cannot be read is remembered (with the file's size and
  time) and answered 503 at once, logged once, until the file changes;
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
import zipfile
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import msgspec

from forecast.jsonable import encode
from forecast.lru import Lru
from forecast.posterior.document import DRAWS_FILE, rerender
from forecast.posterior.predict import PosteriorDraws
from forecast.processes import die_with_parent
from service.common.errors import Busy, TooManyRequests, Unavailable
from service.common.schemas import ProblemError

logger = logging.getLogger(__name__)

# Answers kept (each a few tens of kB): the common what-ifs stay cached.
CACHE_SIZE = 256
# Runs whose draws a what-if process keeps in memory (a few MB each).
DRAWS_RUNS = 4
# CPU priority of the what-if processes: below the API (readers first) and below the
# worker (nice 10 by default), so an anonymous what-if flood never delays a publication.
WHAT_IF_NICE = 15
RETRY_AFTER_SECONDS = 1
# A client at its share waits this long for a slot before its 429: a page's burst of
# what-ifs is answered a little later instead of refused, and a flooding client is paced
# by its computations. Refused at once, a flood of 20 connections drew about 400 429s a
# second, which took 0.8 of the API process's core at nice 0, ahead of the worker, and
# made evidence -> published 2.5x slower (service/README.md).
SHARE_WAIT_SECONDS = 1.0
# A run whose draws cannot be used stays so until someone restores them.
UNAVAILABLE_RETRY_AFTER_SECONDS = 60

Key = tuple[str, tuple[dt.date, ...], tuple[tuple[str, str], ...]]


class MissingDraws(Exception):
    """The run's stored draws are gone: only its published forecast can be served."""


class UnreadableDraws(MissingDraws):
    """The run's stored draws cannot be read (corrupt, truncated, another format): served
    like missing ones."""


# What reading a draws file that is not one raises (np.load, its zip, its JSON, the fields).
_UNREADABLE = (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile)


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
        self.cache: Lru[Key, bytes] = Lru(CACHE_SIZE)
        self.in_flight: dict[Key, asyncio.Future[bytes]] = {}
        # Computations in flight per client, and the client that started each.
        self.by_client: Counter[str] = Counter()
        self.owners: dict[Key, str] = {}
        # Runs whose draws are missing or unreadable: the file's (size, mtime) or None,
        # and the answer, so that the next request costs a stat, not a computation.
        self.unavailable: dict[str, tuple[tuple[int, int] | None, Unavailable]] = {}
        # Requests that waited on each computation in flight, and computations started.
        self.joined: dict[Key, int] = {}
        self.started = 0
        # Set (and replaced) whenever a computation ends: clients at their share wait on it.
        self.share_wait = SHARE_WAIT_SECONDS
        self.slot_freed = asyncio.Event()
        # What runs a computation, and where; tests replace them.
        self.compute: Callable[..., bytes] = compute
        self.executor: Executor | None = None
        self.tasks: set[asyncio.Task[None]] = set()  # referenced until done

    async def get(
        self,
        run_id: str,
        body: bytes,
        dates: list[dt.date],
        assume: dict,
        client: str = "anonymous",
    ) -> bytes:
        """The what-if document's bytes; ``client`` names who asks (``share``).

        Raises
        ------
        Busy
            Every computation slot is taken (503 with ``Retry-After``).
        TooManyRequests
            ``client`` held its share of the slots for ``share_wait`` seconds (429 with
            ``Retry-After``).
        Unavailable
            The run's draws are missing or unreadable, or the what-if process died.
        """
        key = what_if_key(run_id, dates, assume)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.share_wait
        # Each pass answers from the cache, joins the computation in flight or starts one;
        # a client at its share waits for a slot (another request may meanwhile have
        # started or finished this key: looked at again).
        while (future := self.in_flight.get(key)) is None:
            cached = self.cache.get(key)
            if cached is not None:
                return cached
            self._check_draws(run_id)
            if self.by_client[client] < self.share(client):
                future = self._start(key, client, body, dates, assume)
                break
            if not await self._wait_for_slot(deadline - loop.time()):
                raise self._over_share(client)
        self.joined[key] += 1
        # shield: a client that disconnects does not cancel the others' computation.
        return await asyncio.shield(future)

    def share(self, client: str) -> int:
        """Slots ``client`` may hold: the capacity less one kept for a newcomer, split
        evenly between the clients computing (at least one each)."""
        others = sum(1 for c, n in self.by_client.items() if n and c != client)
        spare = 1 if self.capacity > 1 else 0
        return max(1, (self.capacity - spare) // (others + 1))

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
        self.by_client[client] += 1
        self.started += 1
        task = asyncio.create_task(self._run(key, future, body, dates, assume))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return future

    async def _wait_for_slot(self, seconds: float) -> bool:
        """Whether a computation ended within ``seconds``."""
        if seconds <= 0:
            return False
        try:
            await asyncio.wait_for(self.slot_freed.wait(), seconds)
        except TimeoutError:
            return False
        return True

    def _over_share(self, client: str) -> TooManyRequests:
        share = self.share(client)
        return TooManyRequests(
            f"this client has {self.by_client[client]} what-ifs being computed, its share "
            "of the slots; try again when one is answered",
            [ProblemError("by", "cannot be computed now", f"at most {share} at once")],
            retry_after=RETRY_AFTER_SECONDS,
        )

    def _draws_signature(self, run_id: str) -> tuple[int, int] | None:
        try:
            stat = (self.artifacts_dir / run_id / DRAWS_FILE).stat()
        except OSError:
            return None
        return (stat.st_size, stat.st_mtime_ns)

    def _check_draws(self, run_id: str) -> None:
        """Answer at once for a run whose draws were found missing or unreadable, unless
        the file has changed since."""
        known = self.unavailable.get(run_id)
        if known is None:
            return
        signature, answer = known
        if self._draws_signature(run_id) != signature:
            del self.unavailable[run_id]
            return
        raise Unavailable(answer.detail, answer.errors, answer.headers)

    def _remember_unavailable(self, run_id: str, exc: MissingDraws, field: str) -> Unavailable:
        what = "cannot be read" if isinstance(exc, UnreadableDraws) else "are missing"
        answer = Unavailable(
            f"the stored draws of run {run_id} {what}: only the published forecast can be served",
            [ProblemError(field, "cannot be computed for this run", "omit it")],
            {"Retry-After": str(UNAVAILABLE_RETRY_AFTER_SECONDS)},
        )
        if run_id not in self.unavailable:  # logged once per run (and file)
            logger.error("run %s: the stored draws %s (%s)", run_id, what, exc)
        self.unavailable[run_id] = (self._draws_signature(run_id), answer)
        return answer

    async def _run(
        self, key: Key, future: asyncio.Future[bytes], body: bytes, dates: list, assume: dict
    ) -> None:
        run_dir = str(self.artifacts_dir / key[0])
        try:
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(
                self._executor(), self.compute, run_dir, body, dates, assume
            )
        except MissingDraws as exc:
            future.set_exception(
                self._remember_unavailable(key[0], exc, "by" if dates else "assume")
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
            self.by_client[self.owners.pop(key)] -= 1
            self.by_client += Counter()  # drops clients with nothing in flight
            freed, self.slot_freed = self.slot_freed, asyncio.Event()
            freed.set()
        future.exception()  # retrieved: no "never retrieved" warning when nobody waits

    def _executor(self) -> Executor:
        if self.executor is None:
            self.executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_process,
                initargs=(os.getpid(),),
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
        self.kept: Lru[str, PosteriorDraws] = Lru(size)

    def __call__(self, path: Path) -> PosteriorDraws:
        draws = self.kept.get_or(str(path), lambda: PosteriorDraws.load(path))
        return dataclasses.replace(draws, _cache={})


# This process's loader: one per what-if process (set by ``_start_process``); a caller
# that computes in its own process reads draws from disk each time.
_recent_draws: RecentDraws | None = None


def _start_process(parent_pid: int) -> None:
    """Die with the API process, lower this process's priority, keep recent draws."""
    global _recent_draws
    die_with_parent(parent_pid)
    try:
        os.setpriority(os.PRIO_PROCESS, 0, max(os.getpriority(os.PRIO_PROCESS, 0), WHAT_IF_NICE))
    except OSError:
        logger.warning("could not lower the what-if process's priority")
    _recent_draws = RecentDraws()


def compute(run_dir: str, body: bytes, dates: list[dt.date], assume: dict[str, str]) -> bytes:
    """The stored document ``body`` recomputed with extra deadlines and what-if outcomes."""
    loader = _recent_draws or PosteriorDraws.load

    def load_draws(path: Path) -> PosteriorDraws:
        try:
            return loader(path)
        except FileNotFoundError:
            raise MissingDraws(str(path)) from None
        except _UNREADABLE as exc:
            raise UnreadableDraws(f"{path}: {type(exc).__name__}: {exc}") from None

    document = rerender(
        run_dir, msgspec.json.decode(body), by=dates, assume=assume, load_draws=load_draws
    )
    return encode(document)
