"""Bearer-token guard for writes, compared in constant time; repeated wrong tokens get 429
(the right token always passes: failures are limited, not the address)."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from service.common.errors import Forbidden, TooManyRequests, Unauthorized
from service.common.schemas import ProblemError
from service.http.clients import bearer, configured_tokens, matching_token, may_write, peer
from service.http.logs import printable

logger = logging.getLogger(__name__)

VALID_HEADER = (
    "Authorization: Bearer <the server's FORECAST_API_TOKEN, or a FORECAST_API_TOKENS token "
    "for this question>"
)
# A client that sends this many wrong tokens within the window gets 429 for its further
# wrong tokens until the window of its first failure has passed. The right token is never
# refused: behind one address (a NAT, a proxy) a guesser must not lock out the owner, and
# a token of at least 32 random characters cannot be guessed at any rate; the limit
# bounds the cost of wrong attempts (one warning per client and window, not per attempt).
MAX_FAILURES = 10
FAILURE_WINDOW_SECONDS = 300.0
# Clients remembered at once (oldest forgotten first), so the table itself stays small.
MAX_CLIENTS = 10_000


class FailedAttempts:
    """Wrong tokens per client address within a sliding window, safe across threads."""

    def __init__(
        self,
        limit: int = MAX_FAILURES,
        window: float = FAILURE_WINDOW_SECONDS,
        clock=time.monotonic,
    ):
        self.limit = limit
        self.window = window
        self.clock = clock
        self.failures: OrderedDict[str, list[float]] = OrderedDict()
        self.lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """Seconds until ``client`` may try again (0: it may try now)."""
        now = self.clock()
        with self.lock:
            recent = [t for t in self.failures.get(client, ()) if now - t < self.window]
            if recent:
                self.failures[client] = recent
            else:
                self.failures.pop(client, None)
            if len(recent) < self.limit:
                return 0
            return max(1, math.ceil(recent[0] + self.window - now))

    def record(self, client: str) -> None:
        with self.lock:
            self.failures.setdefault(client, []).append(self.clock())
            self.failures.move_to_end(client)
            while len(self.failures) > MAX_CLIENTS:
                self.failures.popitem(last=False)


def require_token(connection: ASGIConnection, _handler: BaseRouteHandler) -> None:
    """Let the request through only with a bearer token that may write to its question
    (the one in the path, else the default question).

    Raises
    ------
    Unauthorized
        Without a token, with a wrong one, or when the server has no token (writes off).
    Forbidden
        With a token limited to other questions (logged without the token).
    NotFound
        For a question that is not served.
    TooManyRequests
        For a missing or wrong token after ``MAX_FAILURES`` wrong tokens from this client
        within the window (the right token passes).
    """
    if not configured_tokens(connection):
        raise Unauthorized(
            "writes are disabled: the server was started without FORECAST_API_TOKEN",
            [ProblemError("Authorization", "no token can be accepted", "set FORECAST_API_TOKEN")],
        )
    matched = matching_token(connection)
    if matched is not None:
        _, scope = matched
        question = connection.app.state.questions.in_path(connection.path_params.get("slug"))
        if may_write(scope, question.slug):
            return
        logger.warning(
            "a token limited to %s was refused a write to %s from %s",
            ", ".join(scope),
            question.slug,
            printable(peer(connection)),
        )
        raise Forbidden(
            f"this token may not write to the question {question.slug!r}",
            [ProblemError("Authorization", "is limited to other questions", ", ".join(scope))],
        )
    is_bearer = bearer(connection) is not None
    attempts: FailedAttempts = connection.app.state.failed_attempts
    client = peer(connection)
    wait = attempts.retry_after(client)
    if wait:
        raise TooManyRequests(
            "too many wrong tokens from this client; try again later",
            [ProblemError("Authorization", "too many wrong tokens", f"retry after {wait} s")],
            retry_after=wait,
        )
    if not is_bearer:
        raise Unauthorized(
            "a bearer token is required for writes",
            [ProblemError("Authorization", "is missing or not a bearer token", VALID_HEADER)],
        )
    attempts.record(client)
    logger.warning("a wrong bearer token from %s", printable(client))
    raise Unauthorized(
        "the bearer token is not valid",
        [ProblemError("Authorization", "the token is wrong", VALID_HEADER)],
    )
