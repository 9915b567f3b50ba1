"""uvicorn's access lines as the service writes them: the same line, escaped, written in
batches (one flush a second at most) and never lost at the end."""

from __future__ import annotations

import io
import logging
import logging.config
import time

import pytest

from service.http import logs


@pytest.fixture
def access():
    """uvicorn.access configured as the service configures it, writing into a buffer."""
    stream = io.StringIO()
    config = logs.uvicorn_log_config()
    config["handlers"]["access"]["stream"] = stream
    logging.config.dictConfig(config)
    logs.escape_uvicorn_logs()
    logger = logging.getLogger("uvicorn.access")
    (handler,) = logger.handlers
    yield logger, handler, stream
    handler.close()
    logger.removeHandler(handler)


def request(logger: logging.Logger, path: str) -> None:
    """A line as uvicorn's protocol logs each request."""
    logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:50000", "GET", path, "1.1", 200)


def test_an_access_line_reads_as_uvicorns_and_is_escaped(access):
    logger, handler, stream = access
    request(logger, "/forecast\x1b[2J")
    handler.flushed_at = 0.0  # as the second-long wait would
    handler.flush()
    assert stream.getvalue() == 'INFO:     127.0.0.1:50000 - "GET /forecast\\x1b[2J HTTP/1.1" 200\n'


def test_under_load_lines_wait_for_one_write_a_second_and_none_is_lost(access):
    logger, handler, _ = access
    raw = io.BytesIO()
    handler.setStream(io.TextIOWrapper(raw, encoding="utf-8"))
    handler.flushed_at = time.monotonic()  # just written: the next lines wait
    for k in range(100):
        request(logger, f"/forecast?k={k}")
    written_at_once = raw.getvalue().count(b"\n")
    deadline = time.monotonic() + 3
    while raw.getvalue().count(b"\n") < 100 and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = raw.getvalue().decode().splitlines()
    assert written_at_once == 0  # not one write per request
    assert [line.split("k=")[1].split(" ")[0] for line in lines] == [str(k) for k in range(100)]


def test_lines_still_waiting_are_written_when_the_log_is_closed(access):
    logger, handler, _ = access
    raw = io.BytesIO()
    handler.setStream(io.TextIOWrapper(raw, encoding="utf-8"))
    handler.flushed_at = time.monotonic()
    request(logger, "/forecast")
    handler.close()
    assert raw.getvalue().count(b"\n") == 1
    assert not handler.flusher.is_alive()  # nothing of ours writes after the close
