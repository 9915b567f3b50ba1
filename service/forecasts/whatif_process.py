"""A what-if computed in its own process: the run's stored draws (the last few kept in
memory) and the stored document recomputed with extra deadlines and assumed outcomes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import zipfile
from pathlib import Path

import msgspec

from forecast.jsonable import encode
from forecast.lru import Lru
from forecast.posterior.document import rerender
from forecast.posterior.draws import PosteriorDraws
from forecast.processes import die_with_parent

logger = logging.getLogger(__name__)

# Runs whose draws a what-if process keeps in memory (a few MB each).
DRAWS_RUNS = 4
# CPU priority of the what-if processes: below the API (readers first) and below the
# worker (nice 10 by default), so an anonymous what-if flood never delays a publication.
WHAT_IF_NICE = 15


class MissingDraws(Exception):
    """The run's stored draws are gone: only its published forecast can be served."""


class UnreadableDraws(MissingDraws):
    """The run's stored draws cannot be read (corrupt, truncated, another format): served
    like missing ones."""


# What reading a draws file that is not one raises (np.load, its zip, its JSON, the fields).
_UNREADABLE = (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile)


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


# This process's loader: one per what-if process (set by ``start_process``); a caller
# that computes in its own process reads draws from disk each time.
_recent_draws: RecentDraws | None = None


def start_process(parent_pid: int) -> None:
    """Die with the API process, lower this process's priority, keep recent draws."""
    global _recent_draws
    die_with_parent(parent_pid)
    try:
        os.setpriority(os.PRIO_PROCESS, 0, max(os.getpriority(os.PRIO_PROCESS, 0), WHAT_IF_NICE))
    except OSError:
        logger.warning("could not lower the what-if process's priority")
    _recent_draws = RecentDraws()


def compute(run_dir: str, body: bytes, dates: list[dt.date], assume: dict[str, str]) -> bytes:
    """The stored document ``body`` recomputed with extra deadlines and what-if outcomes.

    Raises
    ------
    MissingDraws
        The run's draws are missing (``UnreadableDraws``: they cannot be read).
    """
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
