"""Security headers on every response: no MIME sniffing, a content security policy the
page satisfies (its script and style are files of this server; nothing from elsewhere),
and no framing by other sites."""

from __future__ import annotations

import logging

from litestar.types import Message, Scope

logger = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)


async def add_security_headers(message: Message, _scope: Scope) -> None:
    """``before_send`` hook of the app: it sees every response, errors and 404s included."""
    if message["type"] == "http.response.start":
        message["headers"] = [*message.get("headers", ()), *SECURITY_HEADERS]
