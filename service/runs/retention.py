"""Which runs keep their files: published runs always, and the newest few failed ones.

A run's folder (draws, document, diagnostics, posterior) is about 5 MB; the database keeps
every run's record (inputs, diagnostics, timings, error) whatever happens to its files.
Folders of runs the database does not know are left alone.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.common.tables import RunRow

logger = logging.getLogger(__name__)


def prune_run_files(
    reader: sessionmaker[Session], artifacts_dir: Path, keep_failed: int
) -> list[str]:
    """Delete the folders of failed runs beyond the ``keep_failed`` newest.

    Returns the ids of the runs whose folder was deleted.
    """
    query = (
        select(RunRow.id)
        .where(RunRow.status == "failed")
        .order_by(RunRow.finished_at.desc(), RunRow.id.desc())
        .offset(keep_failed)
    )
    with reader() as session:
        old = session.scalars(query).all()
    pruned = []
    for run_id in old:
        folder = artifacts_dir / run_id
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
            pruned.append(run_id)
    if pruned:
        logger.info("deleted the files of %d old failed run(s)", len(pruned))
    return pruned
