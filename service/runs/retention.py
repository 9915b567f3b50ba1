"""Which runs keep their files, so that disk use stays bounded however many runs there are.

A published run's folder holds its draws (``draws.npz``, read by what-ifs), the posterior's
netCDF (the audit copy) and small JSON files (inputs, evidence, document, diagnostics,
timings). The draws and the netCDF are almost all of it (README.md gives the bytes per
run); they are kept for the live run and the newest ``keep_per_cut_off`` runs served at
each cut-off, the only runs a what-if can be asked about (``?as_of=`` serves the newest at
a cut-off; the one before it may still be read by a what-if in flight). Older and
withdrawn runs lose them and keep the JSON files; their published document stays in the
database, so the history and the changes still list them, and a what-if on such a run
would answer 503 as for any missing file. Failed runs keep their whole folder while among
the ``keep_failed`` newest. The database keeps every run's record (inputs, diagnostics,
timings, error) whatever happens to its files. Folders of runs the database does not know
are left alone, and so are queued and running runs'.
"""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from forecast.pipeline.store import POSTERIOR_FILE
from forecast.posterior.draws import DRAWS_FILE
from service.common.tables import ForecastRow, RunRow
from service.publication.live import NEWEST, live_forecasts, served

logger = logging.getLogger(__name__)

# What an older published run loses: its draws and the netCDF, nearly all of its bytes.
BULKY_FILES = (DRAWS_FILE, POSTERIOR_FILE)


def prune_run_files(
    reader: sessionmaker[Session], artifacts_dir: Path, keep_failed: int, keep_per_cut_off: int = 2
) -> list[str]:
    """Delete the folders of failed runs beyond the ``keep_failed`` newest, and the draws
    and netCDF of published runs no what-if can be asked about.

    Returns the ids of the runs whose files were deleted (in part or whole).
    """
    failed = (
        select(RunRow.id)
        .where(RunRow.status == "failed")
        .order_by(RunRow.finished_at.desc(), RunRow.id.desc())
        .offset(keep_failed)
    )
    with reader() as session:
        old_failed = session.scalars(failed).all()
        old_published = _published_without_what_ifs(session, keep_per_cut_off)
    pruned = []
    for run_id in old_failed:
        folder = artifacts_dir / run_id
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
            pruned.append(run_id)
    slimmed = []
    for run_id in old_published:
        bulky = [artifacts_dir / run_id / name for name in BULKY_FILES]
        present = [path for path in bulky if path.is_file()]
        for path in present:
            path.unlink(missing_ok=True)
        if present:
            slimmed.append(run_id)
    if pruned:
        logger.info("deleted the files of %d old failed run(s)", len(pruned))
    if slimmed:
        logger.info("deleted the draws of %d older published run(s)", len(slimmed))
    return pruned + slimmed


def _published_without_what_ifs(session: Session, keep_per_cut_off: int) -> list[str]:
    """Published runs that are neither live nor among the newest ``keep_per_cut_off``
    served at their cut-off (withdrawn runs are served nowhere)."""
    kept = {session.scalar(live_forecasts(ForecastRow.run_id).limit(1))}
    per_cut_off: Counter[object] = Counter()
    servable = served(ForecastRow.run_id, ForecastRow.as_of).order_by(*NEWEST)
    for run_id, as_of in session.execute(servable):
        if per_cut_off[as_of] < keep_per_cut_off:
            per_cut_off[as_of] += 1
            kept.add(run_id)
    published = session.scalars(select(ForecastRow.run_id).order_by(*NEWEST))
    return [run_id for run_id in published if run_id not in kept]
