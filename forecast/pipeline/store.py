"""Run artifacts on disk: inputs, InferenceData (netCDF), draws, forecast, diagnostics, timings."""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from forecast.data.records import EvidenceItem
from forecast.files import replacing
from forecast.jsonable import plain

logger = logging.getLogger(__name__)

DEFAULT_RUNS_DIR = Path(__file__).resolve().parents[2] / "var" / "runs"
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
    with replacing(path) as partial:
        partial.write_text(json.dumps(plain(payload), indent=1))


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def read_document(run_dir: Path | str) -> dict[str, Any]:
    """The forecast document a run published."""
    return read_json(Path(run_dir) / DOCUMENT_FILE)


def latest_published(
    root: Path | str = DEFAULT_RUNS_DIR, archived: bool = False, question: str | None = None
) -> Path | None:
    """The run folder whose passed forecast was published last, or None.

    ``archived``: only runs whose posterior netCDF is written (the service writes it just
    after publishing; a reader of the posterior skips a run in that moment).
    ``question``: only forecasts of this question (``question.toml``'s ``question``): one
    runs folder may hold runs of several data directories.
    """
    best: tuple[str, Path] | None = None
    for path in Path(root).glob(f"*/{DOCUMENT_FILE}"):
        diagnostics = path.parent / DIAGNOSTICS_FILE
        if not diagnostics.exists() or not read_json(diagnostics).get("passed"):
            continue
        if archived and not (path.parent / POSTERIOR_FILE).exists():
            continue
        document = read_json(path)
        if question is not None and document.get("question") != question:
            continue
        key = (document.get("published_at", ""), path.parent)
        if best is None or key > best:
            best = key
    return best[1] if best else None


EVIDENCE_FILE = "evidence.json"


@dataclass(frozen=True)
class StoredRun:
    """A stored run as a reader (the notebook) needs it, with the evidence it was fitted on."""

    run_id: str
    run_dir: Path
    inputs: dict[str, Any]
    diagnostics: dict[str, Any]
    timings: dict[str, Any]
    document: dict[str, Any] | None
    evidence: tuple[EvidenceItem, ...]
    # Ids the run was fitted on whose items neither the run nor ``shipped`` holds.
    missing_evidence: tuple[str, ...]


def write_evidence(run_dir: Path | str, items: Sequence[EvidenceItem]) -> None:
    """Store the items a run is fitted on beside it (posted items live only in the
    service's database, so without this copy a run could not be rebuilt)."""
    write_json(Path(run_dir) / EVIDENCE_FILE, [msgspec.to_builtins(item) for item in items])


def load_run(
    run_id: str, root: Path | str = DEFAULT_RUNS_DIR, shipped: Sequence[EvidenceItem] = ()
) -> StoredRun:
    """A stored run with its own evidence, in the order it was fitted on.

    Parameters
    ----------
    run_id
        The run's folder name under ``root``.
    shipped
        Items to look ids up in for runs stored before their evidence was (the shipped
        ``data/evidence.csv``); ids found in neither are listed in ``missing_evidence``.

    Raises
    ------
    FileNotFoundError
        Naming the run when its folder or its inputs are missing.
    """
    run_dir = Path(root) / run_id
    if not (run_dir / INPUTS_FILE).exists():
        raise FileNotFoundError(f"no stored run {run_id!r} in {root}")
    inputs = read_json(run_dir / INPUTS_FILE)
    known = {item.id: item for item in shipped}
    if (run_dir / EVIDENCE_FILE).exists():
        stored = msgspec.convert(read_json(run_dir / EVIDENCE_FILE), list[EvidenceItem])
        known |= {item.id: item for item in stored}
    ids = inputs.get("evidence_ids", [])

    def optional(name: str) -> Any:
        return read_json(run_dir / name) if (run_dir / name).exists() else None

    return StoredRun(
        run_id=run_id,
        run_dir=run_dir,
        inputs=inputs,
        diagnostics=optional(DIAGNOSTICS_FILE) or {},
        timings=optional(TIMINGS_FILE) or {},
        document=optional(DOCUMENT_FILE),
        evidence=tuple(known[i] for i in ids if i in known),
        missing_evidence=tuple(i for i in ids if i not in known),
    )
