"""Strict input: request bodies that are valid UTF-8 JSON of bounded nesting, text fields
without control or invisible formatting characters, and evidence sources that are a real
web address or a citation.

The forecast package's loader checks the shipped CSV files with its own, looser rules; the
text and source checks here are plain functions it could share.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from litestar import Request

from service.common.errors import BadRequest
from service.common.schemas import VALID, ProblemError

logger = logging.getLogger(__name__)

# Deeper JSON is refused before it is decoded (the decoder recurses once per level); our
# bodies are flat objects, so 32 levels is generous.
MAX_JSON_DEPTH = 32
# Control characters (C0 and C1) and lone surrogates: invisible, they break logs, pages and
# PostgreSQL (which cannot store NUL). Tab and newline are kept: summaries may have them.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# Text that opens with a URL scheme ("https:", "javascript:"); "Reuters: ..." does not,
# since a citation puts a space after its colon.
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:(?=\S|$)")
WEB_SCHEMES = ("http", "https")
# Schemes that run or embed content when a client links the source. Browsers remove ASCII
# tab and newline anywhere in a URL and control characters and spaces around it, so the
# scheme is looked for after removing all of them: "java\tscript:", " JavaScript: x" and
# "javascript: alert(1)" are all javascript: URLs to a page that links them.
UNSAFE_SCHEMES = ("javascript", "data", "vbscript")
_IGNORED_IN_SCHEME = re.compile(r"[\x00-\x20\x7f]")
_ANY_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*(?=:)")
# Invisible formatting characters that change how the text around them is shown:
# bidirectional embeddings, overrides, isolates and marks (a right-to-left override shows
# "gnisoppo" as "opposing"), and zero-width spaces and joiners (they hide text from a
# reader and split words a search would find).
# The characters as a regular-expression class body (the log escapes them too).
INVISIBLE_CHARACTERS = "\u061c\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff"
_INVISIBLE = re.compile(f"[{INVISIBLE_CHARACTERS}]")
INVISIBLE_VALID = (
    "text without bidirectional or zero-width characters (U+061C, U+200B-U+200F, "
    "U+202A-U+202E, U+2060, U+2066-U+2069, U+FEFF)"
)
BODY_VALID = "a JSON object in UTF-8, nested at most 32 levels"


class StrictRequest(Request):
    """A request whose body is refused (400) before decoding when it is not UTF-8 or is
    nested deeper than ``MAX_JSON_DEPTH``: the JSON decoder would fail on it with a 500."""

    async def body(self) -> bytes:
        body = await super().body()
        if body and not self.scope.get("_forecast_body_checked"):
            check_body(body)
            self.scope["_forecast_body_checked"] = True  # type: ignore[typeddict-unknown-key]
        return body


def check_body(body: bytes) -> None:
    """Raise ``BadRequest`` naming ``body`` for bytes that are not UTF-8 or nest too deep."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(
            "the body is not valid UTF-8",
            [ProblemError("body", f"has a byte that is not UTF-8 at {exc.start}", BODY_VALID)],
        ) from None
    if json_depth(text) > MAX_JSON_DEPTH:
        raise BadRequest(
            "the body is nested too deep",
            [ProblemError("body", f"nests deeper than {MAX_JSON_DEPTH} levels", BODY_VALID)],
        )


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON text (brackets in strings ignored)."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return 0  # cannot be deeper than the limit: skip the scan
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def text_problems(fields: Mapping[str, Any]) -> list[ProblemError]:
    """A problem for each text field holding a control character (tab, newline allowed) or
    an invisible formatting character (bidirectional or zero-width), naming the character."""
    problems = []
    for field, value in fields.items():
        if not isinstance(value, str):
            continue
        if found := _CONTROL.search(value):
            problems.append(
                ProblemError(
                    field,
                    f"holds the control character U+{ord(found.group()):04X}",
                    "text without control characters (tab and newline are allowed)",
                )
            )
        elif found := _INVISIBLE.search(value):
            char = found.group()
            problems.append(
                ProblemError(
                    field,
                    f"holds the invisible character U+{ord(char):04X} "
                    f"({unicodedata.name(char, 'a format character')}) at {found.start()}",
                    INVISIBLE_VALID,
                )
            )
    return problems


def source_problem(source: str) -> ProblemError | None:
    """None for an absolute http(s) URL that parses, or for a citation without a scheme;
    a source that a browser would read as a javascript:, data: or vbscript: URL is refused
    however it is spelled (case, spaces, tabs or newlines in or after the scheme)."""
    compact = _IGNORED_IN_SCHEME.sub("", source)
    scheme = _ANY_SCHEME.match(compact)
    if scheme and scheme.group().lower() in UNSAFE_SCHEMES:
        return ProblemError(
            "source",
            f"{source[:80]!r} opens with the scheme {scheme.group().lower()}: (spaces and "
            "control characters ignored), which is neither a web address nor a citation",
            VALID["source"],
        )
    text = source.strip()
    if not (_SCHEME.match(text) or "://" in text):
        return None
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme.lower() not in WEB_SCHEMES
        or not parts.hostname
        or any(c.isspace() for c in text)
    ):
        return ProblemError("source", f"{text[:80]!r} is not an http(s) URL", VALID["source"])
    return None
