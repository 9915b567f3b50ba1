"""Stored check results: the expensive checks, run once by the CLI, kept as JSON for the notebook.

A recovery or a leave-one-out backtest takes minutes; the notebook shows the result the
command line stored, with when it was made, and recomputes only what is missing or stale.
A stored result is stale when it was made by another package version, under another model
config or model code (``config_hash``), by other check code (``source_hash``), on other data
files, or with other settings than the reader asks for.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from forecast import __version__
from forecast.data.dataset import DEFAULT_DATA_DIR, Dataset
from forecast.data.records import EvidenceItem
from forecast.digest import data_hash as files_hash
from forecast.files import replacing
from forecast.jsonable import plain
from forecast.model.config import config_hash
from forecast.seed import DEFAULT_SEED
from forecast.source import CHECK_ROOMS, source_digest

logger = logging.getLogger(__name__)

CHECKS_DIR_ENV = "FORECAST_CHECKS_DIR"
DEFAULT_CHECKS_DIR = Path(__file__).resolve().parents[2] / "var" / "checks"
# Small sampler settings for ``--quick`` and the notebook's quick mode: each check runs
# end to end, its numbers are not to be judged.
QUICK_SAMPLER: dict[str, Any] = {"chains": 2, "tune": 300, "draws": 300}


@dataclasses.dataclass(frozen=True)
class Check:
    """An expensive check: the data files it reads and its full and quick settings."""

    name: str
    files: tuple[str, ...]
    full: dict[str, Any]
    quick: dict[str, Any]
    run: Callable[[Dataset, Mapping[str, Any], Sequence[EvidenceItem]], Any]


def _ally_recovery(dataset: Dataset, settings: Mapping[str, Any], evidence) -> Any:
    from forecast.checks.ally_recovery import run_recovery

    table = run_recovery(
        settings["seeds"], n_allies=settings["n_allies"], sampler_config=settings["sampler"]
    )
    return _records(table)


def _campaign_recovery(dataset: Dataset, settings: Mapping[str, Any], evidence) -> Any:
    from forecast.checks.campaign_recovery import run_campaign_recovery

    return _records(run_campaign_recovery(settings["seeds"], settings["n_campaigns"]))


def _campaign_backtest(dataset: Dataset, settings: Mapping[str, Any], evidence) -> Any:
    from forecast.checks.campaign_backtest import backtest_campaigns

    return backtest_campaigns(
        dataset.campaigns, seed=settings["seed"], sampler_config=settings["sampler"]
    )


def _timing_forms(dataset: Dataset, settings: Mapping[str, Any], evidence) -> Any:
    from forecast.checks.timing_forms import compare_timing_forms

    as_of = dt.date.fromisoformat(settings["as_of"])
    table = compare_timing_forms(
        dataset, evidence, as_of, seed=settings["seed"], sampler_config=settings["sampler"]
    )
    return _records(table.rename_axis("form").reset_index())


# Recoveries simulate their data (no data file); the campaign backtest reads the reference
# class; the timing forms refit the whole model. Sampler settings of None are each check's
# own defaults (those of its module, or the model's).
CHECKS: dict[str, Check] = {
    check.name: check
    for check in (
        Check(
            "ally_recovery",
            (),
            {"seeds": [1, 2, 3], "n_allies": 120, "sampler": None},
            {"seeds": [1], "n_allies": 40, "sampler": QUICK_SAMPLER},
            _ally_recovery,
        ),
        Check(
            "campaign_recovery",
            (),
            {"seeds": [1, 2, 3], "n_campaigns": 80},
            {"seeds": [1], "n_campaigns": 60},
            _campaign_recovery,
        ),
        Check(
            "campaign_backtest",
            ("question.toml", "campaigns.csv", "holdout_counts.csv"),
            {"seed": DEFAULT_SEED, "sampler": None},
            {"seed": DEFAULT_SEED, "sampler": {"tune": 300, "draws": 300}},
            _campaign_backtest,
        ),
        Check(
            "timing_forms",
            (
                "question.toml",
                "blocs.csv",
                "allies.csv",
                "grievances.csv",
                "evidence.csv",
                "campaigns.csv",
                "holdout_counts.csv",
            ),
            {"seed": DEFAULT_SEED, "sampler": None},
            {"seed": DEFAULT_SEED, "sampler": QUICK_SAMPLER},
            _timing_forms,
        ),
    )
}
# Checks that fit at a cut-off on given evidence: their settings name both.
AT_A_CUT_OFF = frozenset({"timing_forms"})


@dataclasses.dataclass(frozen=True)
class StoredResult:
    """One check's result with what it was made from (the JSON file's fields)."""

    name: str
    made_at: str  # UTC, ISO 8601
    package_version: str
    config_hash: str
    data_hash: str
    data_dir: str
    settings: dict[str, Any]
    seconds: float
    result: Any
    # The checks' own code (``source.source_digest(CHECK_ROOMS)``); empty in a file
    # written before it was recorded, which is therefore stale.
    source_hash: str = ""

    def describe(self) -> str:
        """When and from what it was made, for a reader: one line."""
        made = dt.datetime.fromisoformat(self.made_at).strftime("%Y-%m-%dT%H:%MZ")
        data = f"data hash {self.data_hash[:12]}" if CHECKS[self.name].files else "no data file"
        return (
            f"made on {made} in {self.seconds:.0f} s ({data}, model config hash "
            f"{self.config_hash}, version {self.package_version})"
        )


def checks_dir(path: Path | str | None = None) -> Path:
    """``path``, else ``FORECAST_CHECKS_DIR``, else ``var/checks/``."""
    return Path(path or os.environ.get(CHECKS_DIR_ENV) or DEFAULT_CHECKS_DIR)


def data_hash(data_dir: Path | str | None, files: Sequence[str]) -> str:
    """``digest.data_hash`` of ``files`` in ``data_dir`` (default ``data/``)."""
    return files_hash(data_dir if data_dir is not None else DEFAULT_DATA_DIR, files)


def settings_for(
    name: str,
    quick: bool = False,
    *,
    as_of: dt.date | None = None,
    evidence: Sequence[EvidenceItem] = (),
) -> dict[str, Any]:
    """The settings a check runs with: full or quick, and for a cut-off check its cut-off
    and the ids of the evidence it is fitted on (as JSON stores them)."""
    check = _check(name)
    settings = dict(check.quick if quick else check.full)
    if name in AT_A_CUT_OFF:
        if as_of is None:
            raise ValueError(f"the {name} check needs a cut-off date (as_of)")
        settings |= {"as_of": as_of.isoformat(), "evidence_ids": [e.id for e in evidence]}
    return plain(settings)


def compute(
    name: str,
    dataset: Dataset,
    data_dir: Path | str | None,
    settings: Mapping[str, Any],
    evidence: Sequence[EvidenceItem] = (),
) -> StoredResult:
    """Run a check now with ``settings`` (from ``settings_for``); nothing is written."""
    check = _check(name)
    made_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    started = time.perf_counter()
    result = check.run(dataset, settings, evidence)
    return StoredResult(
        name=name,
        made_at=made_at,
        package_version=__version__,
        config_hash=config_hash(),
        source_hash=source_digest(CHECK_ROOMS),
        data_hash=data_hash(data_dir, check.files),
        data_dir=str(Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR),
        settings=plain(dict(settings)),
        seconds=round(time.perf_counter() - started, 1),
        result=plain(result),
    )


def write_result(stored: StoredResult, folder: Path | str | None = None) -> Path:
    """Write ``<folder>/<name>.json`` atomically (a reader never sees half a file)."""
    path = checks_dir(folder) / f"{stored.name}.json"
    with replacing(path) as partial, partial.open("w") as out:
        json.dump(dataclasses.asdict(stored), out, indent=1, allow_nan=True)
    return path


def read_result(name: str, folder: Path | str | None = None) -> StoredResult | None:
    """The stored result of a check, or None if there is none or it cannot be read (logged)."""
    path = checks_dir(folder) / f"{_check(name).name}.json"
    if not path.exists():
        return None
    try:
        stored = StoredResult(**json.loads(path.read_text()))
        dt.datetime.fromisoformat(stored.made_at)
    except (OSError, ValueError, TypeError) as exc:  # TypeError: not an object of our fields
        logger.warning("stored check %s is unreadable, treated as missing: %s", path, exc)
        return None
    if stored.name != name:
        logger.warning("%s holds the check %r, not %r: treated as missing", path, stored.name, name)
        return None
    return stored


def stale_reason(
    stored: StoredResult, data_dir: Path | str | None, accepted: Sequence[Mapping[str, Any]]
) -> str | None:
    """Why a stored result is not the one asked for, or None when it is current.

    ``accepted``: the settings a reader takes (the quick notebook takes full ones too).
    """
    expected = {
        "package version": (stored.package_version, __version__),
        "model config hash": (stored.config_hash, config_hash()),
        "check code hash": (stored.source_hash, source_digest(CHECK_ROOMS)),
        "data hash": (stored.data_hash, data_hash(data_dir, CHECKS[stored.name].files)),
    }
    for what, (found, wanted) in expected.items():
        if found != wanted:
            return f"made with {what} {found}, now {wanted}"
    if stored.settings not in [plain(dict(s)) for s in accepted]:
        return f"made with settings {stored.settings}"
    return None


def current_or_compute(
    name: str,
    dataset: Dataset,
    data_dir: Path | str | None,
    *,
    quick: bool = False,
    folder: Path | str | None = None,
    as_of: dt.date | None = None,
    evidence: Sequence[EvidenceItem] = (),
    run_now: bool = True,
) -> tuple[StoredResult | None, str]:
    """The stored result if it is current, else one computed now (not stored).

    Returns
    -------
    tuple
        The result (None when none is current and ``run_now`` is False) and a line saying
        which result it is: stored (and when it was made) or computed now, and why.
    """
    full = settings_for(name, as_of=as_of, evidence=evidence)
    wanted = settings_for(name, quick, as_of=as_of, evidence=evidence)
    stored = read_result(name, folder)
    where = checks_dir(folder) / f"{name}.json"
    if stored is None:
        why = f"{where} is unreadable" if where.exists() else f"nothing stored in {where}"
    else:
        why = stale_reason(stored, data_dir, [full, wanted] if quick else [full])
        if why is None:
            return stored, f"{name}: stored by `python -m forecast checks`, {stored.describe()}"
        why = f"the stored {where} is stale ({why})"
    if not run_now:
        return None, f"{name}: not computed here ({why}); `python -m forecast checks` stores it"
    made = compute(name, dataset, data_dir, wanted, evidence)
    mode = "quick settings" if quick else "full settings"
    return made, f"{name}: computed now with {mode}, {made.describe()}; {why}"


def _check(name: str) -> Check:
    if name not in CHECKS:
        raise ValueError(f"unknown check {name!r}; valid: {', '.join(CHECKS)}")
    return CHECKS[name]


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    # pandas' own JSON turns numpy scalars into numbers and NaN into null.
    return json.loads(table.to_json(orient="records"))
