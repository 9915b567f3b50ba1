"""The served app's connection hygiene, through a real uvicorn server started with the
service's own options: forwarded headers, slow clients, what a client's headers can put
in the log."""

from __future__ import annotations

import dataclasses
import logging
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn

from forecast.polling import free_port
from service.app import create_app
from service.http.auth import MAX_FAILURES
from service.http.server import server_options
from service.settings import Settings
from tests.service.conftest import endorsement, serving_config

WRONG = {"Authorization": "Bearer not-the-token"}


@contextmanager
def served(settings: Settings, **changes) -> Iterator[tuple[str, int]]:
    """The app served as ``python -m service`` serves it; yields (base URL, port)."""
    settings = dataclasses.replace(settings, port=free_port(), **changes)
    with serving_config(uvicorn.Config(create_app(settings), **server_options(settings))):
        yield f"http://127.0.0.1:{settings.port}", settings.port


def wrong_tokens(url: str, forwarded_for: list[str]) -> list[int]:
    """Statuses of POST /evidence with a wrong token, one per X-Forwarded-For value."""
    with httpx.Client(base_url=url) as http:
        return [
            http.post(
                "/evidence", json=endorsement(), headers={**WRONG, "X-Forwarded-For": address}
            ).status_code
            for address in forwarded_for
        ]


def test_forwarded_for_from_a_peer_not_configured_as_a_proxy_is_ignored(settings):
    rotating = [f"203.0.113.{n}" for n in range(MAX_FAILURES + 3)]
    with served(settings) as (url, _):
        statuses = wrong_tokens(url, rotating)
    # Every attempt counts against the loopback peer, whatever it claims to forward for.
    assert statuses[:MAX_FAILURES] == [401] * MAX_FAILURES
    assert statuses[MAX_FAILURES:] == [429] * 3


def test_forwarded_for_from_a_trusted_proxy_names_the_client(settings):
    rotating = [f"203.0.113.{n}" for n in range(MAX_FAILURES + 3)]
    with served(settings, trusted_proxies=("127.0.0.0/8",)) as (url, _):
        statuses = wrong_tokens(url, rotating)
        # One client behind the proxy is limited on its own.
        again = wrong_tokens(url, ["198.51.100.7"] * (MAX_FAILURES + 1))
    assert statuses == [401] * len(rotating)
    assert again[-1] == 429


def test_a_forwarded_address_is_logged_escaped_and_bounded(settings, caplog):
    hostile = "\x1b[31mevil\x1b[0m" + "x" * 5000
    access: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: access.append(record.getMessage())  # type: ignore[method-assign]
    with served(settings, trusted_proxies=("127.0.0.1",)) as (url, _):
        logging.getLogger("uvicorn.access").addHandler(handler)
        try:
            with caplog.at_level(logging.INFO):
                assert wrong_tokens(url, [hostile]) == [401]
        finally:
            logging.getLogger("uvicorn.access").removeHandler(handler)
    lines = [r.getMessage() for r in caplog.records] + access
    assert any("\\x1b[31mevil" in line for line in lines), lines
    assert not any("\x1b" in line for line in lines)
    assert all(len(line) < 1000 for line in lines)


def closed_within(port: int, send: bytes, seconds: float) -> float:
    """Seconds until the server closes a connection that sent only ``send``."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(seconds)
        if send:
            sock.sendall(send)
        try:
            while sock.recv(4096):
                pass
        except TimeoutError:
            pytest.fail(f"the connection was still open after {seconds} s")
        except ConnectionResetError:
            pass
    return time.monotonic() - start


@pytest.mark.parametrize(
    "send",
    [
        pytest.param(b"", id="nothing"),
        pytest.param(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ", id="half-headers"),
        pytest.param(
            b"POST /evidence HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"ally": ',
            id="half-body",
        ),
    ],
)
def test_a_client_that_never_finishes_its_request_is_disconnected_in_bounded_time(settings, send):
    with served(settings, header_timeout_seconds=1.0, body_timeout_seconds=1.0) as (url, port):
        assert 0.9 < closed_within(port, send, seconds=5) < 5
        # Meanwhile and afterwards the server answers others.
        assert httpx.get(f"{url}/health").status_code == 200


def test_a_request_sent_in_pieces_within_the_deadlines_is_answered(settings):
    quick = {"header_timeout_seconds": 1.0, "body_timeout_seconds": 1.0}
    with (
        served(settings, **quick) as (_, port),
        socket.create_connection(("127.0.0.1", port)) as sock,
    ):
        sock.settimeout(5)
        for piece in (b"GET /health HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n"):
            sock.sendall(piece)
            time.sleep(0.4)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
