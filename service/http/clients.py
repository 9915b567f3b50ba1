"""Who is asking: the key a per-client share (of the what-if slots) is counted under."""

from __future__ import annotations

import hmac

from litestar.connection import ASGIConnection

from service.settings import Settings

EVERY_QUESTION = "*"  # a token's scope: every question


def write_tokens(settings: Settings) -> list[tuple[str, tuple[str, ...]]]:
    """Every write token with the question slugs it may write to (``*``: every one):
    ``FORECAST_API_TOKEN`` first, then ``FORECAST_API_TOKENS``."""
    found = [(settings.api_token, (EVERY_QUESTION,))] if settings.api_token else []
    return found + list(settings.api_tokens.items())


def configured_tokens(connection: ASGIConnection) -> list[tuple[str, tuple[str, ...]]]:
    """``write_tokens`` of the app's settings."""
    return write_tokens(connection.app.state.settings)


def may_write(scope: tuple[str, ...], slug: str) -> bool:
    """Whether a token of ``scope`` may write to the question ``slug``."""
    return EVERY_QUESTION in scope or slug in scope


def bearer(connection: ASGIConnection) -> bytes | None:
    """The request's bearer token, or None."""
    scheme, _, token = connection.headers.get("authorization", "").strip().partition(" ")
    given = token.strip().encode("utf-8", "surrogateescape")
    return given if scheme.lower() == "bearer" and given else None


def matching_token(connection: ASGIConnection) -> tuple[int, tuple[str, ...]] | None:
    """The position and scope of the configured token the request carries, or None.

    Every configured token is compared, each in constant time, whichever matches.
    """
    given = bearer(connection)
    if given is None:
        return None
    found = None
    for position, (token, scope) in enumerate(configured_tokens(connection)):
        if hmac.compare_digest(given, token.encode("utf-8")) and found is None:
            found = (position, scope)
    return found


def client_key(connection: ASGIConnection) -> str:
    """``token:<n>`` for a request with the n-th configured write token (n = 0:
    ``FORECAST_API_TOKEN``), else ``address:<peer>``.

    Only configured tokens count: any other ``Authorization`` header is ignored, so a
    client cannot claim a fresh share by sending made-up tokens. The address is the
    connection's peer (forwarded headers are not read here).
    """
    matched = matching_token(connection)
    if matched is not None:
        return f"token:{matched[0]}"
    return "address:" + peer(connection)


def peer(connection: ASGIConnection) -> str:
    """The client's address: the connection's peer, which uvicorn takes from
    ``X-Forwarded-For`` only when the peer is a trusted proxy (``service.http.server``)."""
    return connection.client.host if connection.client else "unknown"
