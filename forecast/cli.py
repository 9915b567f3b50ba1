"""Command line: ``python -m forecast fit | show | backtest | check | checks |
track-record`` (README "Using it").

Every command reads the question directory given by ``--data DIR`` (also ``--data-dir``,
before or after the command; ``FORECAST_DATA_DIR``; default ``data/``)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from forecast.data.clock import today
from forecast.data.dataset import Dataset, load_dataset, read_evidence
from forecast.data.records import EvidenceItem, ValidationError
from forecast.jsonable import plain
from forecast.pipeline.store import (
    DEFAULT_RUNS_DIR,
    latest_published,
    load_run,
    new_run_id,
    read_document,
    write_evidence,
)
from forecast.seed import DEFAULT_SEED

logger = logging.getLogger(__name__)

# Libraries whose warnings (PyTensor's missing-BLAS note on every call, deprecations) are
# not for the person at the terminal; ``--verbose`` shows them.
QUIET_LIBRARIES = ("pytensor", "pymc", "arviz", "nutpie", "numba", "preliz", "xarray")


class Progress:
    """Stage lines (compiling, sampling, gate) on stderr when it is a terminal."""

    def __init__(self, stream=None, enabled: bool | None = None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.started = time.perf_counter()

    def __call__(self, message: str) -> None:
        if self.enabled:
            elapsed = time.perf_counter() - self.started
            print(f"[{elapsed:6.1f} s] {message}", file=self.stream, flush=True)


def _report_refit(progress: Progress, diagnostics: dict[str, Any]) -> None:
    """A progress line for a run whose first fit missed the gate and was refitted."""
    missed = diagnostics.get("first_attempt_failures")
    if missed:
        reasons = "; ".join(missed)
        progress(f"the first fit missed the gate ({reasons}); refitted with longer chains")


def quiet_libraries() -> None:
    """No library warnings or log lines below errors (set before they are imported)."""
    for name in QUIET_LIBRARIES:
        warnings.filterwarnings("ignore", module=rf"{name}(\.|$)")
        logging.getLogger(name).setLevel(logging.ERROR)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _dates(text: str) -> list[dt.date]:
    return [_date(part.strip()) for part in text.split(",") if part.strip()]


def read_evidence_file(path: Path, dataset: Dataset) -> list[EvidenceItem]:
    """The items of an evidence CSV (``dataset.read_evidence``, dated up to today in
    UTC); exits listing every problem."""
    try:
        return list(read_evidence(path, dataset, latest=today()))
    except ValidationError as exc:
        raise SystemExit(
            "invalid evidence file:\n  " + "\n  ".join(str(p) for p in exc.problems)
        ) from None


def _evidence(dataset: Dataset, extra: Path | None) -> list[EvidenceItem]:
    items = list(dataset.evidence)
    if extra is not None:
        known = {e.id for e in items}
        items += [e for e in read_evidence_file(extra, dataset) if e.id not in known]
    return items


def _forecaster(dataset: Dataset, args: argparse.Namespace):
    from forecast.pipeline.fit import Forecaster

    sampler_config: dict[str, Any] = {}
    if args.draws:
        sampler_config["draws"] = args.draws
    if args.sampler:
        sampler_config["sampler"] = args.sampler
    return Forecaster(dataset, sampler_config=sampler_config)


def _print_summary(document: dict[str, Any]) -> None:
    print(f"{document['question']}  (as of {document['as_of']}, run {document.get('run_id')})")
    for d in document["deadlines"]:
        lo, hi = d["interval"]
        print(f"  {d['label']:<60} {d['p_confirmed']:7.1%}  [{lo:.1%}, {hi:.1%}]")
    print("  ally  status       P(endorse)  " + "  ".join(d["key"] for d in document["deadlines"]))
    for a in sorted(document["allies"], key=lambda a: a["p_endorse"]):
        by = "  ".join(
            f"{a['p_endorse_by'][d['key']]:>{len(d['key'])}.1%}" for d in document["deadlines"]
        )
        print(f"  {a['code']:<5} {a['status']:<12} {a['p_endorse']:9.1%}  {by}")
    diag = document.get("diagnostics", {})
    print(
        f"  gate: {'passed' if diag.get('passed') else 'FAILED'}; "
        f"R-hat max {diag.get('r_hat_max', 0):.3f}, "
        f"ESS bulk min {diag.get('ess_bulk_min', 0):.0f}, divergences {diag.get('divergences')}, "
        f"{diag.get('sampler')} {diag.get('sample_seconds')} s"
    )


def cmd_fit(args: argparse.Namespace) -> int:
    progress = Progress()
    progress("loading the data")
    dataset = load_dataset(args.data_dir)
    evidence = _evidence(dataset, args.evidence)
    as_of = args.as_of or dataset.question.live_as_of(e.date for e in evidence)
    progress("loading PyMC")
    from forecast.model.gate import GateFailed

    forecaster = _forecaster(dataset, args)
    run_id = new_run_id()
    run_dir = args.runs_dir / run_id
    if args.sampler != "pymc":
        progress("compiling the model (about 10 s from the compile cache, 1-2 min the first time)")
        forecaster.compile()
    progress(f"sampling at {as_of} on {len(evidence)} evidence items, then the gate")
    fit_log = logging.getLogger("forecast.pipeline.fit")
    fit_log.propagate = not progress.enabled or args.verbose  # a refit is said as progress
    try:
        write_evidence(run_dir, evidence)
        result = forecaster.run(evidence, as_of, seed=args.seed, run_id=run_id, run_dir=run_dir)
    except GateFailed as exc:
        _report_refit(progress, exc.diagnostics)
        print(f"run {run_id} failed the diagnostics gate: {exc}", file=sys.stderr)
        return 2
    finally:
        fit_log.propagate = True
    _report_refit(progress, result.diagnostics)
    seconds = result.timings.get("total_seconds", 0.0)
    progress(f"gate passed; run {run_id} stored in {run_dir} ({seconds:.1f} s)")
    if args.json:
        print(json.dumps(result.document))
    else:
        _print_summary(result.document)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    question = load_dataset(args.data_dir).question.question
    run_dir = latest_published(args.runs_dir, question=question)
    if run_dir is None:
        print(
            f"no published forecast of {question!r} in {args.runs_dir}; "
            "run `python -m forecast fit`",
            file=sys.stderr,
        )
        return 1
    document = read_document(run_dir)
    if args.json:
        print(json.dumps(document))
    else:
        _print_summary(document)
    return 0


def cmd_backtest_campaigns(args: argparse.Namespace) -> int:
    from forecast.checks.campaign_backtest import backtest_campaigns

    dataset = load_dataset(args.data_dir)
    overrides = json.loads(args.model_config.read_text()) if args.model_config else None
    campaigns = dataset.campaigns + (dataset.other_campaigns if args.with_majority else ())
    result = backtest_campaigns(campaigns, model_config=overrides, seed=args.seed)
    if args.json:
        print(json.dumps(result))
        return 0
    print_campaign_backtest(result)
    return 0


def print_campaign_backtest(result: dict[str, Any]) -> None:
    """The leave-one-out table of ``backtest --campaigns`` (its JSON is ``result``)."""
    from forecast.checks.campaign_backtest import QUESTIONS

    print("leave-one-out forecasts as of each campaign's emergence (outcome in brackets):")
    print(f"  {'campaign':<30}" + "".join(f"{q:>16}" for q in QUESTIONS))
    for row in result["campaigns"]:
        cells = "".join(
            f"{row['forecasts'][q]:>10.2f} [{row['outcomes'][q]:.0f}]  "
            if q in row["outcomes"]
            else f"{'-':>16}"
            for q in QUESTIONS
        )
        print(f"  {row['id']:<30}{cells}")
    print(f"{'question':<18}{'Brier':>8}{'base rate':>11}{'log':>8}{'base rate':>11}")
    for q, s in [*result["by_question"].items(), ("timing", result["timing"]), ("all", result)]:
        print(
            f"{q:<18}{s['brier']:>8.4f}{s['base_rate_brier']:>11.4f}"
            f"{s['log']:>8.4f}{s['base_rate_log']:>11.4f}"
        )
    calibration = result["endgame_calibration"]
    print(
        "endgame day: outcome within the central 50% interval in "
        f"{calibration['coverage_50']:.0%} of campaigns, the 90% in "
        f"{calibration['coverage_90']:.0%}; PIT by quarter {calibration['pit_quarters']}"
    )
    for name, paired in result["paired"].items():
        print(
            f"model minus base rate, Brier paired by campaign ({name}): "
            f"{paired['difference']:+.4f} (standard error {paired['se']:.4f}, "
            f"{paired['n']} campaigns)"
        )
    left = result.get("time_left")
    if left and left["counts"]:
        print(
            f"time left: confirmed within {left['days']} days of each of {left['counts']} later "
            f"dated counts: Brier {left['brier']:.4f} (base rate {left['base_rate_brier']:.4f}), "
            f"log {left['log']:.4f} ({left['base_rate_log']:.4f}); paired by campaign "
            f"{left['paired']['difference']:+.4f} (standard error {left['paired']['se']:.4f}, "
            f"{left['paired']['n']} campaigns)"
        )
    ind = result["independent_holdouts"]
    print(
        "independent holdouts (P(confirmed) = pi^holdouts): "
        f"Brier {ind['brier']:.4f}, log {ind['log']:.4f}"
    )


def cmd_backtest(args: argparse.Namespace) -> int:
    from forecast.checks.backtest import backtest, load_outcomes

    if args.campaigns:
        return cmd_backtest_campaigns(args)
    if not args.as_of:
        print("backtest: give --as-of D1,D2,... (or --campaigns)", file=sys.stderr)
        return 2
    dataset = load_dataset(args.data_dir)
    evidence = _evidence(dataset, args.evidence)
    outcomes = load_outcomes(args.outcomes, dataset.codes) if args.outcomes else None
    forecaster = _forecaster(dataset, args)

    def run(used: Sequence[EvidenceItem], as_of: dt.date):
        run_id = new_run_id()
        run_dir = args.runs_dir / run_id
        result = forecaster.run(used, as_of, seed=args.seed, run_id=run_id, run_dir=run_dir)
        document = result.document
        if args.by:
            from forecast.posterior.document import rerender

            document = rerender(run_dir, document, by=args.by)
        return document, forecaster.inputs(used, as_of).frame

    result = backtest(dataset, evidence, args.as_of, run, outcomes)
    if args.json:
        print(json.dumps(result))
        return 0
    print_backtest(result)
    return 0


def print_backtest(result: dict[str, Any]) -> None:
    """The forecasts, scores and calibration of ``backtest --as-of`` (its JSON is
    ``result``)."""
    for doc, base in zip(result["forecasts"], result["baselines"], strict=True):
        cells = "  ".join(
            f"{d['key']} {d['p_confirmed']:.1%} (baseline {base['deadlines'][d['key']]:.1%}, "
            f"base rate {base['base_rate'][d['key']]:.1%})"
            for d in doc["deadlines"]
        )
        print(f"as of {doc['as_of']}: {cells}")
    for key, table in result.get("scores", {}).items():
        print(f"scores for {key}:")
        for name, s in table.items():
            print(f"  {name:<14} Brier {s['brier']:.4f}  log {s['log']:.4f}  n={s['n']}")
    if result.get("calibration"):
        print("calibration (per-ally forecasts): bin, n, mean forecast, observed")
        for row in result["calibration"]:
            print(
                f"  {row['bin']}  {row['n']:4d}  {row['mean_forecast']:.3f}  {row['observed']:.3f}"
            )


def cmd_check(args: argparse.Namespace) -> int:
    """Validate a question directory: every problem at once, or a one-line summary."""
    folder = args.directory or args.data_dir or "data"
    try:
        dataset = load_dataset(folder)
    except ValidationError as exc:
        print(f"{folder}: {len(exc.problems)} problem(s)", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    question = dataset.question
    print(
        f"{folder}: ok. {question.candidate}: {len(dataset.allies)} members, "
        f"{len(dataset.evidence)} evidence items, {len(dataset.grievances)} grievances, "
        f"{len(dataset.campaigns)} past campaigns decided before {question.opened} "
        f"({sum(len(c.counts) for c in dataset.campaigns)} dated holdout counts; "
        f"{len(dataset.other_campaigns)} more under a qualified majority, kept apart), "
        f"deadlines {', '.join(d.key for d in question.deadlines)}, "
        f"{len(question.calendar)} fixed dates in the calendar"
    )
    if dataset.later_campaigns:
        print(
            f"  not learned from (decided on or after {question.opened}): "
            + ", ".join(dataset.later_campaigns)
        )
    return 0


def _check_names(text: str) -> list[str]:
    from forecast.checks.stored import CHECKS

    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in CHECKS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown check(s) {', '.join(unknown) or repr(text)}; valid: {', '.join(CHECKS)}"
        )
    return names


def cmd_checks(args: argparse.Namespace) -> int:
    """Run the expensive checks and store each result for the notebook to read."""
    progress = Progress()
    progress("loading the data")
    dataset = load_dataset(args.data_dir)
    progress("loading PyMC")
    from forecast.checks import stored

    # The timing forms are compared at the run the notebook shows: the latest published
    # one, else (as the notebook then fits) the question's opening date and shipped evidence.
    run_dir = latest_published(args.runs_dir, archived=True, question=dataset.question.question)
    if run_dir is None:
        as_of, evidence = dataset.question.opened, list(dataset.evidence)
    else:
        run = load_run(run_dir.name, run_dir.parent, shipped=dataset.evidence)
        as_of, evidence = dt.date.fromisoformat(run.inputs["as_of"]), list(run.evidence)
    names = args.only or list(stored.CHECKS)
    if run_dir is not None and any(name in stored.AT_A_CUT_OFF for name in names):
        from forecast.data.inputs import setup_frame

        try:  # before minutes of other checks: a run of another question fails here
            setup_frame(dataset, evidence, as_of)
        except ValidationError as exc:
            print(
                f"the latest published run {run_dir} (as of {as_of}) does not fit this "
                f"question directory: {exc}; give the runs folder of this question "
                "(--runs-dir, FORECAST_RUNS_DIR), or name the other checks with --only",
                file=sys.stderr,
            )
            return 2
    folder = stored.checks_dir(args.checks_dir)
    for name in names:
        settings = stored.settings_for(name, args.quick, as_of=as_of, evidence=evidence)
        progress(f"{name}: running with {settings}")
        result = stored.compute(name, dataset, args.data_dir, settings, evidence)
        path = stored.write_result(result, folder)
        print(f"{name}: stored in {path}, {result.describe()}")
    return 0


def cmd_track_record(args: argparse.Namespace) -> int:
    """Replay every resolved question at its checkpoints, store the scored record, print it."""
    from forecast.data.questions import question_dirs
    from forecast.track_record_file import record_path, write_record

    questions = question_dirs(args.questions, args.data_dir)
    progress = Progress()
    progress("loading PyMC")
    from forecast.checks.track_record import build_record

    record = build_record(
        questions,
        quick=args.quick,
        draws=args.draws,
        seed=args.seed,
        max_checkpoints=args.checkpoints,
        progress=progress,
    )
    path = write_record(record, record_path(args.out))
    if args.json:
        print(json.dumps(plain(record)))
    else:
        print_track_record(record)
        print(f"stored in {path}")
    return 0


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def print_track_record(record: dict[str, Any]) -> None:
    """The tables of ``track-record``: each question's checkpoints, then the pooled scores,
    calibration and coverage (its JSON is ``record``)."""
    if record["quick"]:
        print("QUICK record (few draws): it runs end to end; its numbers are not to be judged")
    for q in record["questions"]:
        print(f"{q['slug']}: {q['question']} (opened {q['opened']}, confirmed {q['confirmed']})")
        print(
            f"  {'as of':<11}{'deadline':<22}{'P':>6}{'outcome':>8}{'Brier':>8}{'log':>7}"
            f"{'base rate':>10}{'Brier':>8}{'log':>7}"
        )
        for row in q["checkpoints"]:
            if row["gate"] != "passed":
                print(f"  {row['as_of']:<11}not scored: {row['gate']}")
                continue
            ever = {**row["ever"], "key": "ever"}
            for d in [*row["deadlines"], ever]:
                print(
                    f"  {row['as_of']:<11}{d['key'][:21]:<22}{d['p']:>6.2f}{d['outcome']:>8.0f}"
                    f"{d['brier']:>8.3f}{d['log']:>7.3f}{d['base_rate']:>10.2f}"
                    f"{d['base_rate_brier']:>8.3f}{d['base_rate_log']:>7.3f}"
                )
            when = row["confirmation_date"]
            print(
                f"  {'':<11}confirmation date 50% {when['interval_50']} 94% {when['interval_94']}"
                f" (actual {when['actual']})"
            )
        s = q["scores"]["deadlines"]
        print(
            f"  by deadline: Brier {s['model']['brier']:.4f} (base rate "
            f"{s['base_rate']['brier']:.4f}), log {s['model']['log']:.4f} "
            f"({s['base_rate']['log']:.4f}), n={s['model']['n']}"
        )
    pooled = record["pooled"]
    print("pooled over the questions:")
    for what, s in pooled["scores"].items():
        print(
            f"  {what:<10} Brier {s['model']['brier']:.4f} "
            f"(base rate {s['base_rate']['brier']:.4f}), log {s['model']['log']:.4f} "
            f"({s['base_rate']['log']:.4f}), n={s['model']['n']}"
        )
    print("  calibration of P(confirmed by a deadline): bin, n, mean forecast, observed")
    for row in pooled["calibration"]:
        print(f"    {row['bin']}  {row['n']:4d}  {row['mean_forecast']:.3f}  {row['observed']:.3f}")
    for level, c in pooled["coverage"].items():
        print(
            f"  confirmation date in the {level}% interval: {c['covered']} of {c['n']} "
            f"checkpoints ({_share(c['share'])})"
        )
    for name, s in pooled["allies"].items():
        if s["n"]:
            print(f"  per ally ({name}): Brier {s['brier']:.4f}, log {s['log']:.4f}, n={s['n']}")
    print(
        f"made {record['made_at']} in {record['seconds']:.0f} s, seed {record['settings']['seed']}"
    )


def _data_option(p: argparse.ArgumentParser, **defaults: Any) -> None:
    p.add_argument("--data", "--data-dir", dest="data_dir", type=Path, metavar="DIR", **defaults)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m forecast", description=__doc__)
    _data_option(
        root,
        default=os.environ.get("FORECAST_DATA_DIR"),
        help="the question directory (FORECAST_DATA_DIR; default data/)",
    )
    root.add_argument(
        "--runs-dir",
        type=Path,
        default=Path(os.environ.get("FORECAST_RUNS_DIR", DEFAULT_RUNS_DIR)),
        help="where run artifacts are stored (FORECAST_RUNS_DIR)",
    )
    root.add_argument("-v", "--verbose", action="store_true")
    sub = root.add_subparsers(dest="command", required=True)

    def fitting(p: argparse.ArgumentParser) -> None:
        _data_option(p, default=argparse.SUPPRESS, help="the question directory")
        p.add_argument("--evidence", type=Path, help="extra evidence CSV (evidence.csv columns)")
        p.add_argument("--sampler", choices=("nutpie", "pymc"))
        p.add_argument("--draws", type=int, help="draws per chain")
        p.add_argument("--seed", type=int, default=DEFAULT_SEED)
        p.add_argument("--json", action="store_true", help="print the GET /forecast document")

    fit = sub.add_parser("fit", help="fit and publish a forecast")
    fit.add_argument("--as-of", type=_date, help="cut-off (default: the latest evidence)")
    fitting(fit)
    fit.set_defaults(func=cmd_fit)
    show = sub.add_parser("show", help="print the latest published forecast")
    _data_option(show, default=argparse.SUPPRESS, help="the question directory")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_show)
    bt = sub.add_parser("backtest", help="refit at past cut-offs and score")
    bt.add_argument("--as-of", type=_dates, help="D1,D2,... (refit at each cut-off)")
    bt.add_argument(
        "--campaigns",
        action="store_true",
        help="leave each past campaign of campaigns.csv out in turn and score its forecast",
    )
    bt.add_argument(
        "--with-majority",
        action="store_true",
        help="with --campaigns: add the campaigns decided by a qualified majority",
    )
    bt.add_argument(
        "--model-config",
        type=Path,
        metavar="JSON",
        help="with --campaigns: model config overrides to score a variant (docs/model.md)",
    )
    bt.add_argument("--outcomes", type=Path, help="CSV: event,ally,date")
    bt.add_argument("--by", type=_dates, help="D1,D2,...: horizons scored beside the deadlines")
    fitting(bt)
    bt.set_defaults(func=cmd_backtest)
    check = sub.add_parser("check", help="validate a question directory, listing every problem")
    check.add_argument("directory", type=Path, nargs="?", help="default: --data or data/")
    _data_option(check, default=argparse.SUPPRESS, help="the question directory")
    check.set_defaults(func=cmd_check)
    checks = sub.add_parser(
        "checks",
        help="run the expensive checks (recoveries, leave-one-out) and store their results",
    )
    _data_option(checks, default=argparse.SUPPRESS, help="the question directory")
    checks.add_argument(
        "--only", type=_check_names, metavar="NAME,...", help="these checks only (default: all)"
    )
    checks.add_argument(
        "--quick", action="store_true", help="small settings: runs end to end, not for judging"
    )
    checks.add_argument(
        "--checks-dir",
        type=Path,
        default=None,
        help="where results are stored (FORECAST_CHECKS_DIR; default var/checks/)",
    )
    checks.set_defaults(func=cmd_checks)
    record = sub.add_parser(
        "track-record",
        help="replay every resolved question at its checkpoints, score and store the record",
    )
    _data_option(record, default=argparse.SUPPRESS, help="the default question directory")
    record.add_argument(
        "--questions",
        default=os.environ.get("FORECAST_QUESTIONS"),
        metavar="SPEC",
        help="the questions (FORECAST_QUESTIONS; default: data/ and every example)",
    )
    record.add_argument(
        "--quick", action="store_true", help="fewer draws: runs end to end, not for judging"
    )
    record.add_argument("--draws", type=int, help="draws per chain")
    record.add_argument("--seed", type=int, default=DEFAULT_SEED)
    record.add_argument(
        "--checkpoints",
        type=int,
        default=8,
        metavar="N",
        help="at most N checkpoints per question (default 8; README 'Track record')",
    )
    record.add_argument("--json", action="store_true", help="print the record as JSON")
    record.add_argument(
        "--out",
        type=Path,
        help="where the record is stored (FORECAST_TRACK_RECORD; default var/track-record.json)",
    )
    record.set_defaults(func=cmd_track_record)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    if not args.verbose:
        quiet_libraries()
    try:
        return args.func(args)
    except ValidationError as exc:
        print(f"invalid input: {exc}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:  # a missing file, an unusable setting: one line
        if args.verbose:
            raise
        print(f"error: {exc} (--verbose shows where)", file=sys.stderr)
        return 1
