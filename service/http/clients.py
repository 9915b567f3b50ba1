"""Who is asking: the key a per-client share (of the what-if slots) is counted under."""

from __future__ import annotations

import hmac

from litestar.connection import ASGIConnection


def client_key(connection: ASGIConnection) -> str:
    """``token`` for a request with the right bearer token, else ``address:<peer>``.

    Only the configured token counts: any other ``Authorization`` header is ignored, so a
    client cannot claim a fresh share by sending made-up tokens. The address is the
    connection's peer (forwarded headers are not read here).
    """
    expected: str | None = connection.app.state.settings.api_token
    scheme, _, token = connection.headers.get("authorization", "").strip().partition(" ")
    given = token.strip().encode("utf-8", "surrogateescape")
    is_bearer = bool(expected) and scheme.lower() == "bearer" and bool(given)
    if is_bearer and hmac.compare_digest(given, str(expected).encode("utf-8")):
        return "token"
    return "address:" + peer(connection)


def peer(connection: ASGIConnection) -> str:
    """The client's address: the connection's peer, which uvicorn takes from
    ``X-Forwarded-For`` only when the peer is a trusted proxy (``service.http.server``)."""
    return connection.client.host if connection.client else "unknown"
