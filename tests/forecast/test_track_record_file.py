"""The stored track record: read back as written, stale when the code or a question's files
change, missing (never a crash) when absent or unreadable."""

from __future__ import annotations

import json

import pytest

from forecast import track_record_file
from forecast.data.questions import QuestionDir
from forecast.track_record_file import (
    REBUILD_COMMAND,
    read_status,
    rebuild_command,
    record_path,
    write_record,
)
from tests.track_record import EXAMPLE, copy_question, hand_made_record


@pytest.fixture
def question(tmp_path):
    return copy_question(tmp_path)


def test_a_record_reads_back_as_written_and_is_current(tmp_path, question):
    record = hand_made_record(question)
    path = write_record(record, tmp_path / "out" / "track-record.json")
    found = read_status(path)
    assert (found.status, found.reason) == ("ok", None)
    assert found.record == record
    # Atomic: the record alone is left in the folder, no temporary file.
    assert [p.name for p in path.parent.iterdir()] == ["track-record.json"]
    assert found.how_to_rebuild == f"{REBUILD_COMMAND} --out {path}"


def test_a_changed_byte_in_a_question_file_makes_the_record_stale_naming_it(tmp_path, question):
    path = write_record(hand_made_record(question), tmp_path / "track-record.json")
    outcomes = question / "outcomes.csv"
    outcomes.write_bytes(outcomes.read_bytes().replace(b"2014-03-28", b"2014-03-29"))
    found = read_status(path)
    assert found.status == "stale"
    assert found.reason.startswith("the data of nato-2014 changed")
    assert found.record is not None  # the stale record is still shown, with the reason


def test_other_model_code_makes_the_record_stale(tmp_path, question, monkeypatch):
    path = write_record(hand_made_record(question), tmp_path / "track-record.json")
    real = track_record_file.source_digest
    monkeypatch.setattr(
        track_record_file,
        "source_digest",
        lambda rooms: "feedfeedfeedfeed" if "model" in rooms else real(rooms),
    )
    found = read_status(path)
    assert found.status == "stale"
    assert "model code hash" in found.reason and "feedfeedfeedfeed" in found.reason


def test_other_check_code_or_version_makes_the_record_stale(tmp_path, question):
    path = tmp_path / "track-record.json"
    write_record(hand_made_record(question, source_hash="0000000000000000"), path)
    assert "source hash 0000000000000000" in read_status(path).reason
    write_record(hand_made_record(question, package_version="0.0.1"), path)
    assert "package version 0.0.1" in read_status(path).reason


def test_a_question_gone_or_another_selection_makes_it_stale(tmp_path, question):
    path = write_record(hand_made_record(question), tmp_path / "track-record.json")
    other = QuestionDir("nato-1999", EXAMPLE.parent / "nato-1999")
    assert other.resolved
    found = read_status(path, [QuestionDir("nato-2014", question), other])
    assert found.reason == "made for the questions nato-2014, now nato-1999, nato-2014"
    assert read_status(path, [QuestionDir("nato-2014", question)]).status == "ok"
    (question / "question.toml").unlink()
    assert read_status(path).reason == f"the question nato-2014 is gone from {question}"


def test_no_file_is_missing_with_the_command_that_makes_it(tmp_path):
    found = read_status(tmp_path / "none.json")
    assert found.status == "missing"
    assert found.reason == f"no track record in {tmp_path / 'none.json'}"
    assert found.record is None


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'{"questions": [{"x": 1}]}'])
def test_an_unreadable_file_is_missing_with_the_reason(tmp_path, body):
    path = tmp_path / "track-record.json"
    path.write_bytes(body)
    found = read_status(path)
    assert found.status == "missing"
    assert found.reason.startswith(f"{path} cannot be read as a track record")


def test_the_path_is_forecast_track_record_else_var(tmp_path, monkeypatch):
    monkeypatch.delenv("FORECAST_TRACK_RECORD", raising=False)
    assert record_path().parts[-2:] == ("var", "track-record.json")
    assert rebuild_command() == REBUILD_COMMAND
    monkeypatch.setenv("FORECAST_TRACK_RECORD", str(tmp_path / "tr.json"))
    assert record_path() == tmp_path / "tr.json"
    assert record_path(tmp_path / "given.json") == tmp_path / "given.json"
    assert rebuild_command() == REBUILD_COMMAND  # the env var names the same file


def test_nan_is_written_as_null(tmp_path, question):
    path = write_record(hand_made_record(question, seconds=float("nan")), tmp_path / "t.json")
    assert json.loads(path.read_text())["seconds"] is None
