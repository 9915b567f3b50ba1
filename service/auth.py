"""Bearer-token guard for writes, compared in constant time."""

from __future__ import annotations

import hmac
import logging

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from service.errors import Unauthorized
from service.schemas import ProblemError

logger = logging.getLogger(__name__)

VALID_HEADER = "Authorization: Bearer <the server's FORECAST_API_TOKEN>"


def require_token(connection: ASGIConnection, _handler: BaseRouteHandler) -> None:
    """Let the request through only with ``Authorization: Bearer <FORECAST_API_TOKEN>``.

    Raises
    ------
    Unauthorized
        Without a token, with a wrong one, or when the server has no token (writes off).
    """
    expected: str | None = connection.app.state.settings.api_token
    if not expected:
        raise Unauthorized(
            "writes are disabled: the server was started without FORECAST_API_TOKEN",
            [ProblemError("Authorization", "no token can be accepted", "set FORECAST_API_TOKEN")],
        )
    scheme, _, token = connection.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "a bearer token is required for writes",
            [ProblemError("Authorization", "is missing or not a bearer token", VALID_HEADER)],
        )
    given = token.strip().encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(given, expected.encode("utf-8")):
        raise Unauthorized(
            "the bearer token is not valid",
            [ProblemError("Authorization", "the token is wrong", VALID_HEADER)],
        )
