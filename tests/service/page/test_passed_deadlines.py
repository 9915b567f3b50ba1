"""The page shows a deadline that has passed as a settled fact: its card says whether the
candidate was confirmed by it, and the allies table, "what would move it" and the chart
follow only the deadlines still ahead (plus P(ever)).

The page's own files are served beside a fixed forecast document (no model, no
database), and headless Chromium renders them.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.service.conftest import missing
from tests.service.page.test_page import CHROMIUM, cell, pct, render

STATIC = Path(__file__).resolve().parents[3] / "service" / "page" / "static"

DOCUMENT = {
    "question": "Will the allies confirm C?",
    "candidate": "C",
    "as_of": "2024-05-01",
    "run_id": "run-1",
    "published_at": "2024-05-01T12:00:00Z",
    "evidence_count": 3,
    "assume": {},
    "deadlines": [
        {
            "key": "april",
            "label": "Before April",
            "date": "2024-04-02",
            "p_confirmed": 0.0,
            "interval": [0.0, 0.0],
        },
        {
            "key": "cut_off",
            "label": "By the cut-off",
            "date": "2024-05-01",
            "p_confirmed": 0.0,
            "interval": [0.0, 0.0],
        },
        {
            "key": "june",
            "label": "Before June",
            "date": "2024-05-31",
            "p_confirmed": 0.4,
            "interval": [0.3, 0.5],
        },
        {
            "key": "summit",
            "label": "Before the summit",
            "date": "2024-07-08",
            "p_confirmed": 0.6,
            "interval": [0.5, 0.7],
        },
    ],
    "p_ever_confirmed": 0.8,
    "p_ever_confirmed_interval": [0.7, 0.9],
    "allies": [
        {
            "code": "AA",
            "name": "Aland",
            "status": "endorsed",
            "p_endorse": 1.0,
            "p_endorse_by": {"april": 1.0, "cut_off": 1.0, "june": 1.0, "summit": 1.0},
            "p_last_holdout": 0.0,
        },
        {
            "code": "BB",
            "name": "Bland",
            "status": "undecided",
            "p_endorse": 0.8,
            "p_endorse_by": {"april": 0.0, "cut_off": 0.0, "june": 0.4, "summit": 0.6},
            "p_last_holdout": 1.0,
        },
    ],
    # As a document published before passed deadlines were left out would have it.
    "pivotal": [
        {
            "key": k,
            "allies": [
                {
                    "code": "BB",
                    "name": "Bland",
                    "status": "undecided",
                    "if_endorses": e,
                    "if_refuses": 0.0,
                }
            ],
        }
        for k, e in (("april", 0.0), ("cut_off", 0.0), ("june", 0.9), ("summit", 0.95))
    ],
    "curve": [
        {"date": "2024-05-01", "p_confirmed": 0.0, "interval": [0.0, 0.0]},
        {"date": "2024-06-01", "p_confirmed": 0.4, "interval": [0.3, 0.5]},
        {"date": "2024-08-01", "p_confirmed": 0.7, "interval": [0.6, 0.8]},
    ],
    "timing_form": "lognormal",
    "diagnostics": {
        "passed": True,
        "r_hat_max": 1.001,
        "ess_bulk_min": 900,
        "ess_tail_min": 900,
        "divergences": 0,
    },
}
HISTORY = [
    {
        "run_id": "run-0",
        "as_of": "2024-03-01",
        "p_confirmed": {"april": 0.2, "june": 0.3, "summit": 0.5},
    },
    {
        "run_id": "run-1",
        "as_of": "2024-05-01",
        "p_confirmed": {"april": 0.0, "june": 0.4, "summit": 0.6},
    },
]
# GET /questions of a service that serves this one question.
QUESTIONS = {
    "questions": [
        {
            "slug": "c",
            "question": DOCUMENT["question"],
            "candidate": "C",
            "opened": "2024-02-01",
            "default": True,
            "links": {"page": "/questions/c/"},
        }
    ]
}


class Stub(BaseHTTPRequestHandler):
    """The page's files and the API's answers for one fixed forecast."""

    def do_GET(self) -> None:  # http.server calls it by this name
        path = self.path.split("?")[0]
        if path == "/":
            self.answer((STATIC / "index.html").read_bytes(), "text/html")
        elif path.startswith("/static/"):
            kind = "text/javascript" if path.endswith(".js") else "text/css"
            self.answer((STATIC / path.removeprefix("/static/")).read_bytes(), kind)
        elif path == "/forecast":
            self.answer(json.dumps(DOCUMENT).encode(), "application/json", etag='"run-1"')
        elif path == "/forecast/history":
            self.answer(json.dumps(HISTORY).encode(), "application/json")
        elif path == "/questions":
            self.answer(json.dumps(QUESTIONS).encode(), "application/json")
        elif path in ("/forecast/changes", "/evidence"):
            self.answer(b"[]", "application/json")
        else:
            self.send_error(404)

    def answer(self, body: bytes, kind: str, etag: str | None = None) -> None:
        if etag and self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        if etag:
            self.send_header("ETag", etag)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def rendered(stub: type[Stub]) -> Iterator[str]:
    """The page as Chromium renders it beside ``stub``'s answers (a fixture's body)."""
    if CHROMIUM is None:
        missing("chromium")
    server = ThreadingHTTPServer(("127.0.0.1", 0), stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield render(f"http://127.0.0.1:{server.server_address[1]}/")
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def dom() -> Iterator[str]:
    yield from rendered(Stub)


def test_a_passed_deadline_card_states_the_settled_fact(dom):
    assert 'data-ready="1"' in dom
    assert cell(dom, 'data-test="passed-april"') == "passed: not confirmed by 2024-04-02"
    assert cell(dom, 'data-test="passed-cut_off"') == "passed: not confirmed by 2024-05-01"
    assert 'data-test="p-april"' not in dom and 'data-test="p-cut_off"' not in dom
    assert cell(dom, 'data-test="p-june"') == pct(0.4)
    assert cell(dom, 'data-test="p-summit"') == pct(0.6)


def test_the_allies_table_has_columns_only_for_deadlines_ahead(dom):
    table = re.search(r'<table id="allies">(.*?)</table>', dom, re.S).group(1)
    assert "by-april" not in table and "by-cut_off" not in table
    row = re.search(r'<tr data-code="BB">(.*?)</tr>', table, re.S).group(1)
    assert cell(row, 'data-test="by-june"') == pct(0.4)
    assert cell(row, 'data-test="by-summit"') == pct(0.6)
    assert cell(row, 'data-test="p_endorse"') == pct(0.8)


def test_what_would_move_it_and_the_chart_follow_only_deadlines_ahead(dom):
    pivotal = re.search(r'<table id="pivotal">(.*?)</table>', dom, re.S).group(1)
    assert "-april" not in pivotal and "cut_off" not in pivotal
    assert cell(pivotal, 'data-test="if-endorses-june"') == pct(0.9)
    chart = re.search(r'<svg id="chart".*?</svg>', dom, re.S).group(0)
    assert ">april<" not in chart and ">cut_off<" not in chart
    assert ">june<" in chart and ">summit<" in chart


def test_a_service_of_one_question_shows_no_switcher(dom):
    nav = re.search(r"<nav [^>]*>(.*?)</nav>", dom, re.S)
    assert 'id="switcher"' in nav.group(0) and "hidden" in nav.group(0).split(">")[0]
    assert 'href="/questions/c/"' in nav.group(1) and 'aria-current="page"' in nav.group(1)
    assert "could not be shown" not in dom
