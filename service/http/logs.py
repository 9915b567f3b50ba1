"""Request-derived text made safe for the log: control characters (ANSI escapes, newlines)
escaped and the length bounded, in our own messages and in uvicorn's."""

from __future__ import annotations

import logging
import re

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
