"""Request-derived text made safe for the log: control characters (ANSI escapes, newlines)
escaped and the length bounded, in our own messages and in uvicorn's."""

from __future__ import annotations

import copy
import logging
import re
import threading
import time
from typing import Any

from service.http.strict import INVISIBLE_CHARACTERS

logger = logging.getLogger(__name__)

# A client address or header value is shown at most this long; the rest is counted.
MAX_LOGGED_CHARS = 200
# C0 and C1 controls, DEL, and the invisible formatting characters strict.py refuses in
# text: a log line shows what was sent, it is never rewritten by it.
_UNPRINTABLE = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{INVISIBLE_CHARACTERS}]")
# uvicorn's loggers that write what a client sent (its address, which a trusted proxy's
# X-Forwarded-For sets, and the request line).
UVICORN_LOGGERS = ("uvicorn.access", "uvicorn.error")


def printable(value: object, limit: int = MAX_LOGGED_CHARS) -> str:
    """``value`` as one log-safe line: controls escaped (``\\x1b``), at most ``limit``
    characters of it kept."""
    text = str(value)
    cut = f"...({len(text) - limit} more)" if len(text) > limit else ""
    return _UNPRINTABLE.sub(_escape, text[:limit]) + cut


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class EscapeArguments(logging.Filter):
    """Make every text argument of a record printable (numbers and others are kept, so a
    formatter that unpacks the arguments, as uvicorn's access log does, still works)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(printable(a) if isinstance(a, str) else a for a in record.args)
        return True


def escape_uvicorn_logs() -> None:
    """Install ``EscapeArguments`` on uvicorn's loggers once (their configuration keeps it)."""
    for name in UVICORN_LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(f, EscapeArguments) for f in target.filters):
            target.addFilter(EscapeArguments())


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with a plain formatter for its access lines: the
    same line (``INFO:     127.0.0.1:50000 - "GET /forecast HTTP/1.1" 200``) without
    uvicorn's ``AccessFormatter``, which copies each record and colours its parts and cost
    a fifth of ``GET /forecast``'s throughput."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["access"] = {"format": "%(levelname)s:     %(message)s"}
    config["handlers"]["access"] = {
        "()": "service.http.logs.BufferedLines",
        "formatter": "access",
        "stream": "ext://sys.stdout",
    }
    return config


# How long an access line may wait in the stream's buffer before it is written.
FLUSH_SECONDS = 1.0


class BufferedLines(logging.StreamHandler):
    """A stream handler that flushes at most once every ``FLUSH_SECONDS`` (and a thread
    flushes what a quiet second left): under load, one write for many access lines
    instead of one system call per request."""

    def __init__(self, stream: Any = None):
        super().__init__(stream)
        self.flushed_at = time.monotonic()
        self.closed = threading.Event()
        self.flusher = threading.Thread(target=self._flush_each_second, name="access-log")
        self.flusher.daemon = True
        self.flusher.start()

    def flush(self) -> None:
        if time.monotonic() - self.flushed_at >= FLUSH_SECONDS:
            self.flushed_at = time.monotonic()
            super().flush()

    def close(self) -> None:
        """Stop the flushing thread and write what waits (``logging.shutdown`` closes
        every handler at exit; no thread of ours touches the stream after that)."""
        self.closed.set()
        if self.flusher is not threading.current_thread():
            self.flusher.join(2 * FLUSH_SECONDS)
        self.flushed_at = 0.0
        self.flush()
        super().close()

    def _flush_each_second(self) -> None:
        while not self.closed.wait(FLUSH_SECONDS):
            self.flushed_at = 0.0
            try:
                self.flush()
            except (OSError, ValueError):  # a closed or broken stream: the next line says so
                continue
