"""An idle worker rebuilds a missing or stale track record in a child process at the
lowest priority, once, and waits an hour after a failed build."""

from __future__ import annotations

import logging
import os
import sys
import time

from forecast.data.questions import QuestionDir
from service.worker.record_builds import RETRY_AFTER_FAILURE_SECONDS, RecordBuilds
from tests.track_record import copy_question, hand_made_record


def builds(tmp_path, script: str, now: list[float], record=None) -> RecordBuilds:
    question = copy_question(tmp_path)
    record = record or tmp_path / "track-record.json"
    command = [sys.executable, "-c", script, str(record), str(question)]
    return RecordBuilds(
        record,
        [QuestionDir("nato-2014", question)],
        tmp_path / "logs",
        clock=lambda: now[0],
        command=command,
    )


# Writes a current record of the question (the CLI's job), and its own priority.
WRITE_RECORD = """
import os, sys
from pathlib import Path
from forecast.track_record_file import write_record
from tests.track_record import hand_made_record
write_record(hand_made_record(Path(sys.argv[2])), sys.argv[1])
Path(sys.argv[1] + ".nice").write_text(str(os.nice(0)))
"""


def wait_for(builder: RecordBuilds) -> None:
    deadline = time.monotonic() + 60
    while builder.process is not None and time.monotonic() < deadline:
        builder.when_idle()
        time.sleep(0.05)
    assert builder.process is None


def test_a_missing_record_is_rebuilt_once_at_the_lowest_priority(tmp_path, caplog, monkeypatch):
    caplog.set_level(logging.INFO)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(sys.path))
    now = [0.0]
    builder = builds(tmp_path, WRITE_RECORD, now)
    builder.when_idle()
    assert builder.process is not None
    assert "rebuilding it at the lowest priority" in caplog.text
    wait_for(builder)
    assert "rebuilt" in caplog.text
    assert (tmp_path / "track-record.json.nice").read_text() == "19"
    builder.when_idle()  # the record is current now: nothing is started
    assert builder.process is None


def test_a_failed_build_is_tried_again_only_after_an_hour(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    now = [0.0]
    builder = builds(tmp_path, "import sys; sys.exit(3)", now)
    builder.when_idle()
    wait_for(builder)
    assert "exited with 3" in caplog.text
    now[0] = RETRY_AFTER_FAILURE_SECONDS - 1
    builder.when_idle()
    assert builder.process is None
    now[0] = RETRY_AFTER_FAILURE_SECONDS
    builder.when_idle()
    assert builder.process is not None
    builder.stop()


def test_a_current_record_or_no_resolved_question_starts_nothing(tmp_path):
    from forecast.track_record_file import write_record

    now = [0.0]
    builder = builds(tmp_path, "raise SystemExit(1)", now)
    write_record(hand_made_record(builder.questions[0].path), builder.record)
    builder.when_idle()
    assert builder.process is None
    unresolved = RecordBuilds(tmp_path / "other.json", [], tmp_path, clock=lambda: 0.0)
    assert not unresolved.enabled


def test_a_build_whose_record_this_worker_still_finds_stale_is_not_repeated(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    now = [0.0]
    builder = builds(tmp_path, "pass", now)  # exits 0, writes nothing: still missing
    builder.when_idle()
    wait_for(builder)
    builder.when_idle()
    assert builder.process is None
    assert "rebuilt, still missing for this worker" in caplog.text
    now[0] = RETRY_AFTER_FAILURE_SECONDS
    builder.when_idle()
    assert builder.process is not None
    builder.stop()
