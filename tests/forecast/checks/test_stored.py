"""Stored check results: read back as written, stale when made from other inputs, never a crash."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path

import pytest

from forecast.checks import stored
from forecast.cli import main
from forecast.data.dataset import load_dataset
from forecast.model import config as model_config
from forecast.model.config import DEFAULT_MODEL_CONFIG, config_hash
from forecast.source import MODEL_ROOMS, source_digest
from tests.conftest import SYNTHETIC_AS_OF

BACKTEST = "campaign_backtest"


@pytest.fixture
def data_dir(synthetic_dir: Path, tmp_path: Path) -> Path:
    """A copy of the synthetic question directory that a test may edit."""
    return Path(shutil.copytree(synthetic_dir, tmp_path / "data"))


@pytest.fixture
def fake_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every check replaced by one that returns its settings at once; the calls are listed."""
    calls: list[str] = []
    for name, check in stored.CHECKS.items():

        def run(dataset, settings, evidence, name=name):
            calls.append(name)
            return {"check": name, "settings": dict(settings), "n_evidence": len(evidence)}

        monkeypatch.setitem(stored.CHECKS, name, dataclasses.replace(check, run=run))
    return calls


def made(data_dir: Path, name: str = BACKTEST, **changes) -> stored.StoredResult:
    result = stored.StoredResult(
        name=name,
        made_at="2026-12-02T09:10:00+00:00",
        package_version=stored.__version__,
        config_hash=config_hash(),
        source_hash=source_digest(stored.CHECK_ROOMS),
        data_hash=stored.data_hash(data_dir, stored.CHECKS[name].files),
        data_dir=str(data_dir),
        settings=changes.pop("settings", None) or stored.settings_for(name),
        seconds=12.0,
        result={"brier": 0.2, "campaigns": [{"id": "c1", "forecasts": {"confirmed": 0.7}}]},
    )
    return dataclasses.replace(result, **changes)


def test_a_stored_result_reads_back_as_written(tmp_path, data_dir):
    written = made(data_dir)
    path = stored.write_result(written, tmp_path / "checks")
    assert path == tmp_path / "checks" / f"{BACKTEST}.json"
    assert stored.read_result(BACKTEST, tmp_path / "checks") == written
    # Atomic: only the result itself is left in the folder, no temporary file.
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    assert stored.stale_reason(written, data_dir, [stored.settings_for(BACKTEST)]) is None


def test_the_checks_folder_is_read_from_forecast_checks_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(stored.CHECKS_DIR_ENV, str(tmp_path))
    assert stored.checks_dir() == tmp_path
    monkeypatch.delenv(stored.CHECKS_DIR_ENV)
    assert stored.checks_dir() == stored.DEFAULT_CHECKS_DIR


def test_a_result_made_on_other_data_is_stale(data_dir):
    written = made(data_dir)
    campaigns = data_dir / "campaigns.csv"
    campaigns.write_text(campaigns.read_text() + "\n")
    reason = stored.stale_reason(written, data_dir, [written.settings])
    assert reason is not None and "data hash" in reason


def test_a_result_made_under_another_model_config_is_stale(data_dir):
    other = config_hash({"intercept_mu": DEFAULT_MODEL_CONFIG["intercept_mu"] + 1.0})
    assert other != config_hash()
    written = made(data_dir, config_hash=other)
    reason = stored.stale_reason(written, data_dir, [written.settings])
    assert reason is not None and "model config hash" in reason


def test_a_result_made_by_other_model_code_or_other_check_code_is_stale(data_dir, monkeypatch):
    """Keyed on the code, not on a version string nobody bumps: the same config under
    changed model code (or changed check code) is another result."""
    written = made(data_dir)
    assert stored.stale_reason(written, data_dir, [written.settings]) is None

    monkeypatch.setattr(model_config, "source_digest", lambda rooms=MODEL_ROOMS: "0" * 16)
    reason = stored.stale_reason(written, data_dir, [written.settings])
    assert reason is not None and "model config hash" in reason
    monkeypatch.undo()

    monkeypatch.setattr(stored, "source_digest", lambda rooms: "0" * 16)
    reason = stored.stale_reason(written, data_dir, [written.settings])
    assert reason is not None and "check code hash" in reason


def test_a_data_file_the_check_does_not_read_leaves_it_current(data_dir):
    written = made(data_dir)
    allies = data_dir / "allies.csv"  # the campaign backtest reads the reference class only
    allies.write_text(allies.read_text() + "\n")
    assert stored.stale_reason(written, data_dir, [written.settings]) is None


def test_a_result_made_with_other_settings_is_stale_but_quick_mode_takes_full_ones(data_dir):
    quick = made(data_dir, settings=stored.settings_for(BACKTEST, quick=True))
    assert "settings" in stored.stale_reason(quick, data_dir, [stored.settings_for(BACKTEST)])
    full = made(data_dir)
    accepted = [stored.settings_for(BACKTEST), stored.settings_for(BACKTEST, quick=True)]
    assert stored.stale_reason(full, data_dir, accepted) is None


def test_timing_forms_made_at_another_cut_off_or_evidence_are_stale(data_dir, synthetic_dataset):
    evidence = list(synthetic_dataset.evidence)
    settings = stored.settings_for("timing_forms", as_of=SYNTHETIC_AS_OF, evidence=evidence)
    written = made(data_dir, "timing_forms", settings=settings)
    assert stored.stale_reason(written, data_dir, [settings]) is None
    fewer = stored.settings_for("timing_forms", as_of=SYNTHETIC_AS_OF, evidence=evidence[:-1])
    assert stored.stale_reason(written, data_dir, [fewer]) is not None


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "campaign_backtest", "made_at": "2026-12-0',  # cut short
        "[1, 2, 3]",
        '{"name": "campaign_backtest"}',
        "\x00\xff not json",
    ],
    ids=["truncated", "not an object", "missing fields", "binary"],
)
def test_an_unreadable_stored_result_is_missing_with_a_warning(tmp_path, caplog, text):
    (tmp_path / f"{BACKTEST}.json").write_text(text)
    with caplog.at_level(logging.WARNING, logger=stored.__name__):
        assert stored.read_result(BACKTEST, tmp_path) is None
    assert "unreadable" in caplog.text


def test_a_current_stored_result_is_shown_without_computing(
    tmp_path, data_dir, synthetic_dataset, fake_checks
):
    stored.write_result(made(data_dir), tmp_path)
    found, line = stored.current_or_compute(BACKTEST, synthetic_dataset, data_dir, folder=tmp_path)
    assert found == made(data_dir) and fake_checks == []
    assert "stored by `python -m forecast checks`" in line and "2026-12-02T09:10Z" in line


def test_a_stale_or_corrupt_stored_result_is_computed_now_and_said_so(
    tmp_path, data_dir, synthetic_dataset, fake_checks
):
    stored.write_result(made(data_dir, config_hash="0" * 16), tmp_path)
    found, line = stored.current_or_compute(BACKTEST, synthetic_dataset, data_dir, folder=tmp_path)
    assert fake_checks == [BACKTEST] and found.config_hash == config_hash()
    assert "computed now" in line and "stale" in line
    (tmp_path / f"{BACKTEST}.json").write_text("{")
    found, line = stored.current_or_compute(
        BACKTEST, synthetic_dataset, data_dir, folder=tmp_path, quick=True
    )
    assert found.settings == stored.settings_for(BACKTEST, quick=True)
    assert "computed now with quick settings" in line and "unreadable" in line
    # Computing in the notebook stores nothing: only the command line writes results.
    assert (tmp_path / f"{BACKTEST}.json").read_text() == "{"


def test_without_run_now_a_missing_result_is_none(tmp_path, data_dir, synthetic_dataset):
    found, line = stored.current_or_compute(
        "ally_recovery", synthetic_dataset, data_dir, folder=tmp_path, run_now=False
    )
    assert found is None and "nothing stored" in line


def test_the_checks_command_stores_each_named_check(tmp_path, data_dir, fake_checks, capsys):
    argv = ["--data", str(data_dir), "--runs-dir", str(tmp_path / "runs"), "checks"]
    out = str(tmp_path / "out")
    assert main([*argv, "--only", "campaign_backtest,timing_forms", "--checks-dir", out]) == 0
    assert fake_checks == ["campaign_backtest", "timing_forms"]
    timing = stored.read_result("timing_forms", out)
    # No published run: the timing forms are compared where the notebook would fit one.
    assert timing.settings["as_of"] == "2024-02-22"
    assert timing.result["n_evidence"] == len(timing.settings["evidence_ids"]) > 0
    assert stored.read_result("ally_recovery", out) is None
    assert main([*argv, "--quick", "--checks-dir", str(tmp_path / "all")]) == 0
    written = sorted(p.stem for p in (tmp_path / "all").glob("*.json"))
    assert written == sorted(stored.CHECKS)
    assert stored.read_result(BACKTEST, tmp_path / "all").settings["sampler"]["draws"] == 300
    assert "campaign_recovery: " in capsys.readouterr().out


def _published_run(runs: Path, question: str) -> None:
    """A published run as of 2014-03-27 (before the synthetic question's campaign)."""
    run_dir = runs / "run_other"
    run_dir.mkdir(parents=True)
    for name, payload in {
        "inputs.json": {"as_of": "2014-03-27", "evidence_ids": []},
        "diagnostics.json": {"passed": True},
        "forecast.json": {"published_at": "2026-12-02T07:11:20+00:00", "question": question},
    }.items():
        (run_dir / name).write_text(json.dumps(payload))
    (run_dir / "posterior.nc").write_bytes(b"")


def test_the_checks_command_skips_another_questions_runs(tmp_path, data_dir, fake_checks):
    _published_run(tmp_path / "runs", "Will another candidate be confirmed?")
    argv = ["--data", str(data_dir), "--runs-dir", str(tmp_path / "runs"), "checks"]
    assert main([*argv, "--checks-dir", str(tmp_path / "out")]) == 0
    assert sorted(fake_checks) == sorted(stored.CHECKS)


def test_the_checks_command_refuses_a_run_that_does_not_fit_the_data_at_once(
    tmp_path, data_dir, fake_checks, capsys
):
    question = load_dataset(data_dir).question.question
    _published_run(tmp_path / "runs", question)
    argv = ["--data", str(data_dir), "--runs-dir", str(tmp_path / "runs"), "checks"]
    assert main([*argv, "--checks-dir", str(tmp_path / "out")]) == 2
    assert fake_checks == [] and not (tmp_path / "out").exists()
    assert "run_other (as of 2014-03-27) does not fit" in capsys.readouterr().err
    assert main([*argv, "--only", BACKTEST, "--checks-dir", str(tmp_path / "out")]) == 0


def test_the_checks_command_refuses_an_unknown_check(capsys):
    with pytest.raises(SystemExit):
        main(["checks", "--only", "recoveryy"])
    assert "valid: ally_recovery" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_checks_command_runs_a_real_check_and_the_result_reads_back(
    tmp_path, data_dir, synthetic_dataset
):
    argv = ["--data", str(data_dir), "--runs-dir", str(tmp_path / "runs"), "checks", "--quick"]
    assert main([*argv, "--only", BACKTEST, "--checks-dir", str(tmp_path / "checks")]) == 0
    found = stored.read_result(BACKTEST, tmp_path / "checks")
    settings = stored.settings_for(BACKTEST, quick=True)
    assert stored.stale_reason(found, data_dir, [settings]) is None
    rows = found.result["campaigns"]
    assert [row["id"] for row in rows] == [c.id for c in synthetic_dataset.campaigns]
    assert all(0.0 <= row["forecasts"]["confirmed"] <= 1.0 for row in rows)
