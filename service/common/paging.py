"""Pages of long lists: ``limit`` and an opaque ``cursor``; the next page in a ``Link`` header.

A cursor holds the sort key of the last item served (keyset paging), so items added
meanwhile neither repeat nor shift a page.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from litestar import Request

from service.common.errors import BadRequest
from service.common.schemas import VALID, ProblemError

logger = logging.getLogger(__name__)

DEFAULT_LIMIT = 500
MAX_LIMIT = 500


def encode_cursor(key: list[Any]) -> str:
    key = [k.isoformat() if hasattr(k, "isoformat") else str(k) for k in key]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *parsers: Callable[[str], Any]) -> list[Any]:
    """The sort key a cursor holds, each part read by its parser (``date.fromisoformat``…).

    Raises
    ------
    BadRequest
        Naming ``cursor``, for anything that is not a cursor this list made.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
        if not (isinstance(key, list) and len(key) == len(parsers)):
            raise ValueError("not a key")
        return [parse(str(part)) for parse, part in zip(parsers, key, strict=True)]
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest(
            "invalid cursor", [ProblemError("cursor", "is not a cursor", VALID["cursor"])]
        ) from None


def next_link(request: Request, cursor: str | None) -> dict[str, str]:
    """The ``Link`` header to the next page (none on the last page)."""
    if cursor is None:
        return {}
    query: dict[str, Any] = {k: v for k, v in request.query_params.items() if k != "cursor"}
    query["cursor"] = cursor
    return {"Link": f'<{request.url.path}?{urlencode(query)}>; rel="next"'}
