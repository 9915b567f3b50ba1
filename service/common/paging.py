"""Pages of long lists: ``limit`` and an opaque ``cursor``; the next page in a ``Link`` header.

A cursor holds the sort key of the last item served (keyset paging), so items added
meanwhile neither repeat nor shift a page.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple
from urllib.parse import urlencode

from litestar import Request
from sqlalchemy import ColumnElement, Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from service.common.errors import BadRequest
from service.common.schemas import VALID, ProblemError

logger = logging.getLogger(__name__)

DEFAULT_LIMIT = 500
MAX_LIMIT = 500


class Key(NamedTuple):
    """One column of a list's sort key, its direction, and how a cursor's text is read
    back into its value (``date.fromisoformat``, ``str``...)."""

    column: InstrumentedAttribute[Any]
    parse: Callable[[str], Any]
    descending: bool = False


def keyset_page(
    session: Session, query: Select[Any], keys: Sequence[Key], limit: int, cursor: str | None
) -> tuple[list[Any], str | None]:
    """One page of ``query`` in the order of ``keys``, and the cursor of the next page.

    Parameters
    ----------
    session
        Where the query runs.
    query
        The list's ``select``, filtered but not ordered: of one mapped class (the page
        holds its objects) or of columns (the page holds rows); either way ``keys`` are
        among its attributes.
    keys
        The sort key, unique per item (its last column a primary key, say).
    limit
        Items on a page.
    cursor
        The next-page cursor of the previous page, or None for the first page.

    Returns
    -------
    (rows, next_cursor)
        At most ``limit`` rows; ``next_cursor`` is None on the last page.

    Raises
    ------
    BadRequest
        Naming ``cursor``, for a cursor that these keys did not make.
    """
    query = keyset_select(query, keys, limit, cursor)
    # A query of one mapped class pages its objects; any other, its rows.
    first = query.column_descriptions[0]
    if len(query.column_descriptions) == 1 and first["expr"] is first["entity"]:
        rows: Sequence[Any] = session.scalars(query).all()
    else:
        rows = session.execute(query).all()
    return keyset_cut(rows, keys, limit)


def keyset_select(
    query: Select[Any], keys: Sequence[Key], limit: int, cursor: str | None
) -> Select[Any]:
    """``query`` ordered by ``keys``, after the cursor's key, with one row more than a page
    (its presence says there is a next page). ``BadRequest`` for a bad cursor."""
    if cursor is not None:
        values = decode_cursor(cursor, *(key.parse for key in keys))
        query = query.where(_after(keys, values))
    return query.order_by(*keyset_order(keys)).limit(limit + 1)


def keyset_cut(
    rows: Sequence[Any], keys: Sequence[Key], limit: int
) -> tuple[list[Any], str | None]:
    """The page of the rows a ``keyset_select`` query returned, and the next page's cursor."""
    page = list(rows[:limit])
    if len(rows) <= limit:
        return page, None
    return page, encode_cursor([getattr(page[-1], key.column.key) for key in keys])


def keyset_order(keys: Sequence[Key]) -> list[Any]:
    """The ``ORDER BY`` of ``keys``."""
    return [key.column.desc() if key.descending else key.column for key in keys]


def _after(keys: Sequence[Key], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows that sort after ``values``: greater in the first column that differs (less, if
    that column sorts descending)."""
    beyond = []
    for i, key in enumerate(keys):
        later = key.column < values[i] if key.descending else key.column > values[i]
        same = [k.column == v for k, v in zip(keys[:i], values, strict=False)]
        beyond.append(and_(*same, later))
    return or_(*beyond)


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
