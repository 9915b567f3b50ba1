"""The command line's question directory: ``--data`` anywhere, and ``check DIR``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from forecast.cli import main, parser

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "argv",
    [
        ["--data", "q", "fit"],
        ["--data-dir", "q", "fit"],
        ["fit", "--data", "q"],
        ["backtest", "--data-dir", "q"],
        ["show", "--data", "q"],
        ["check", "--data", "q"],
    ],
)
def test_data_selects_the_question_directory_before_or_after_the_command(argv):
    assert parser().parse_args(argv).data_dir == Path("q")


def test_the_data_directory_defaults_to_forecast_data_dir(monkeypatch):
    monkeypatch.setenv("FORECAST_DATA_DIR", "elsewhere")
    assert parser().parse_args(["fit"]).data_dir == Path("elsewhere")
    assert parser().parse_args(["fit", "--data", "q"]).data_dir == Path("q")


@pytest.mark.parametrize(
    "question", ["data", "examples/nato-2014", "examples/nato-1995", "examples/nato-1999"]
)
def test_check_passes_the_shipped_questions(question, capsys):
    assert main(["check", str(PROJECT_ROOT / question)]) == 0
    assert ": ok." in capsys.readouterr().out


def test_check_names_the_campaigns_it_does_not_learn_from(capsys):
    """The 2014 question leaves out its own campaign and every later one."""
    assert main(["check", str(PROJECT_ROOT / "examples/nato-2014")]) == 0
    printed = capsys.readouterr().out
    assert "not learned from (decided on or after 2014-03-18): nato_2014_stoltenberg," in printed
    assert "nato_2009_rasmussen" not in printed.split("not learned from")[1]


def test_check_lists_every_problem_with_file_row_field_and_valid_values(tmp_path, capsys):
    folder = tmp_path / "question"
    shutil.copytree(PROJECT_ROOT / "data", folder)
    allies = folder / "allies.csv"
    lines = allies.read_text().splitlines()
    lines[1] = lines[1].replace(",1.76,", ",lots,")
    allies.write_text("\n".join(lines) + "\n")
    evidence = folder / "evidence.csv"
    lines = evidence.read_text().splitlines()
    lines[1] = lines[1].replace(",endorsement,", ",endorsed,", 1)
    evidence.write_text("\n".join(lines) + "\n")

    assert main(["check", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "allies.csv, row 2, field 'spending_pct_gdp'" in err
    assert "evidence.csv, row 2, field 'kind'" in err
    assert "valid: endorsement, objection" in err
    # Albania's bad spending cell is reported once, not again for its evidence rows.
    assert "is not an ally code" not in err
    assert ": 2 problem(s)" in err
