"""Run artifacts on disk: inputs, InferenceData (netCDF), draws, forecast, diagnostics, timings."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_RUNS_DIR = Path(__file__).resolve().parent.parent / "var" / "runs"
INPUTS_FILE = "inputs.json"
POSTERIOR_FILE = "posterior.nc"
DOCUMENT_FILE = "forecast.json"
DIAGNOSTICS_FILE = "diagnostics.json"
TIMINGS_FILE = "timings.json"


def new_run_id(now: dt.datetime | None = None) -> str:
    """A sortable, unique run id: ``run_YYYYmmddTHHMMSS_<hex>`` (UTC)."""
    now = now or dt.datetime.now(dt.UTC)
    return f"run_{now:%Y%m%dT%H%M%S}_{secrets.token_hex(4)}"


def write_json(path: Path, payload: Any) -> None:
    """Write JSON atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=1, sort_keys=False, default=str))
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def read_document(run_dir: Path | str) -> dict[str, Any]:
    """The forecast document a run published."""
    return read_json(Path(run_dir) / DOCUMENT_FILE)


def latest_published(root: Path | str = DEFAULT_RUNS_DIR, archived: bool = False) -> Path | None:
    """The run folder whose passed forecast was published last, or None.

    ``archived``: only runs whose posterior netCDF is written (the service writes it just
    after publishing; a reader of the posterior skips a run in that moment).
    """
    best: tuple[str, Path] | None = None
    for path in Path(root).glob(f"*/{DOCUMENT_FILE}"):
        diagnostics = path.parent / DIAGNOSTICS_FILE
        if not diagnostics.exists() or not read_json(diagnostics).get("passed"):
            continue
        if archived and not (path.parent / POSTERIOR_FILE).exists():
            continue
        key = (read_json(path).get("published_at", ""), path.parent)
        if best is None or key > best:
            best = key
    return best[1] if best else None
