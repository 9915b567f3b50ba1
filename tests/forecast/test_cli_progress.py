"""The fit command's progress lines: a refit is reported from the run's result."""

from __future__ import annotations

import functools
from types import SimpleNamespace

import pytest

from forecast import cli
from forecast.model.gate import GateFailed

FIRST_MISS = ["ess_bulk_min 180 < 400"]
REFIT_LINE = "the first fit missed the gate (ess_bulk_min 180 < 400); refitted with longer chains"


class StandIn:
    """A forecaster whose run returns (or raises with) the given diagnostics, logging nothing."""

    def __init__(self, diagnostics: dict):
        self.diagnostics = diagnostics

    def compile(self) -> None:
        pass

    def run(self, evidence, as_of, **_kwargs):
        if not self.diagnostics["passed"]:
            raise GateFailed(self.diagnostics)
        document = {"question": "Q?", "as_of": as_of.isoformat()}
        return SimpleNamespace(
            document=document, diagnostics=self.diagnostics, timings={"total_seconds": 0.1}
        )


def fit(monkeypatch, tmp_path, diagnostics: dict) -> tuple[int, str]:
    monkeypatch.setattr(cli, "Progress", functools.partial(cli.Progress, enabled=True))
    monkeypatch.setattr(cli, "_forecaster", lambda dataset, args: StandIn(diagnostics))
    return cli.main(["--runs-dir", str(tmp_path), "fit", "--json"])


@pytest.mark.parametrize("passed", [True, False])
def test_a_run_whose_first_fit_missed_the_gate_reports_the_refit(
    passed, monkeypatch, tmp_path, capsys
):
    diagnostics = {
        "passed": passed,
        "failures": [] if passed else ["ess_bulk_min 390 < 400"],
        "attempts": 2,
        "first_attempt_failures": FIRST_MISS,
    }
    assert fit(monkeypatch, tmp_path, diagnostics) == (0 if passed else 2)
    assert capsys.readouterr().err.count(REFIT_LINE) == 1


def test_a_run_that_passed_at_once_reports_no_refit(monkeypatch, tmp_path, capsys):
    diagnostics = {"passed": True, "failures": [], "attempts": 1}
    assert fit(monkeypatch, tmp_path, diagnostics) == 0
    err = capsys.readouterr().err
    assert "gate passed" in err
    assert "refit" not in err
