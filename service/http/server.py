"""How uvicorn serves the app: forwarded headers only from trusted proxies, deadlines for
reading a request, and log lines that cannot carry what a client sent raw."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from service.http.logs import escape_uvicorn_logs, printable, uvicorn_log_config
from service.settings import Settings

logger = logging.getLogger(__name__)

# An idle kept-alive connection is closed after this many seconds (uvicorn's default).
KEEP_ALIVE_SECONDS = 5


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with deadlines for reading a request.

    uvicorn closes an idle kept-alive connection, but a client that connects and sends
    part of its headers (or of its body) is held for ever: many of them hold the server's
    connections. Here a request's headers must arrive within ``header_seconds`` of the
    connection (or of the previous response), and its body within ``body_seconds`` of
    its headers; otherwise the connection is closed.
    """

    header_seconds: float = 10.0
    body_seconds: float = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_deadline: asyncio.TimerHandle | None = None
        self.reading_body = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_seconds)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        state = self.conn.their_state
        if state is h11.SEND_BODY and not self.reading_body:
            self.reading_body = True
            self._arm(self.body_seconds)
        elif state is not h11.IDLE and state is not h11.SEND_BODY:
            self._disarm()  # the request is read (or the connection is over)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self.reading_body = False
        if not self.transport.is_closing():
            self._arm(self.header_seconds)  # the next request's headers

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self.read_deadline = self.loop.call_later(seconds, self._deadline_passed)

    def _disarm(self) -> None:
        if self.read_deadline is not None:
            self.read_deadline.cancel()
            self.read_deadline = None

    def _deadline_passed(self) -> None:
        self.read_deadline = None
        state = self.conn.their_state
        if self.transport.is_closing() or state not in (h11.IDLE, h11.SEND_BODY):
            return
        if state is h11.SEND_BODY or self.conn.trailing_data[0]:
            part = "body" if state is h11.SEND_BODY else "headers"
            client = printable(self.client[0]) if self.client else "unknown"
            logger.debug("closed a connection from %s: its request %s were too slow", client, part)
        self.transport.close()


def read_deadlines(header_seconds: float, body_seconds: float) -> type[DeadlineH11Protocol]:
    """``DeadlineH11Protocol`` with these deadlines (uvicorn builds one per connection)."""
    return type(
        "DeadlineH11Protocol",
        (DeadlineH11Protocol,),
        {"header_seconds": header_seconds, "body_seconds": body_seconds},
    )


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for these settings (``uvicorn.run(app, **server_options(s))``).

    Forwarded headers (``X-Forwarded-For``, ``X-Forwarded-Proto``) are read only from a
    peer in ``settings.trusted_proxies`` (uvicorn would trust loopback by default).
    """
    escape_uvicorn_logs()
    trusted = ",".join(settings.trusted_proxies)
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level.lower(),
        "log_config": uvicorn_log_config(),
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted or "",
        "http": read_deadlines(settings.header_timeout_seconds, settings.body_timeout_seconds),
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        "timeout_graceful_shutdown": 5,
    }
