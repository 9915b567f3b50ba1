"""The page at GET /, rendered by headless Chromium, shows the numbers the API serves."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import tempfile

import pytest

from tests.service.browser import HEADLESS_FLAGS
from tests.service.conftest import missing
from tests.service.test_server import Server, server, wait_for  # noqa: F401 (fixture)

CHROMIUM = shutil.which("chromium")


def render(url: str) -> str:
    """The DOM after the page's scripts ran, from headless Chromium."""
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [
                CHROMIUM,
                *HEADLESS_FLAGS,
                f"--user-data-dir={profile}",
                "--virtual-time-budget=10000",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=90,
            check=True,
        ).stdout


def cell(dom: str, attrs: str) -> str:
    match = re.search(rf"<(\w+)[^>]*{attrs}[^>]*>(.*?)</\1>", dom, re.S)
    assert match, f"no element with {attrs}"
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(2))).strip()


def pct(p: float) -> str:
    """The page's format: one decimal, and "<0.1%" for a chance above 0 that rounds to 0."""
    return "<0.1%" if 0 < p < 0.0005 else f"{100 * p:.1f}%"


@pytest.mark.slow
def test_page_shows_the_api_numbers_in_a_browser(server: Server):  # noqa: F811
    if CHROMIUM is None:
        missing("chromium")
    server.start()
    wait_for(lambda: server.get("/forecast").status_code == 200, 240, "a forecast", server)
    document = server.get("/forecast").json()
    page = server.get("/")
    assert page.headers["content-type"].startswith("text/html")
    # Chromium enforces the policy: the page's script runs only if it satisfies it.
    assert "script-src 'self'" in page.headers["content-security-policy"]
    # An item stored before today's rules (a scheme without a host) cannot blank the page.
    add_stored_evidence(server, source="https://", summary="an item with a broken source")

    dom = render(server.url + "/")

    assert 'data-ready="1"' in dom
    for deadline in document["deadlines"]:
        assert cell(dom, f'data-test="p-{deadline["key"]}"') == pct(deadline["p_confirmed"])
        lo, hi = deadline["interval"]
        assert f"{pct(lo)} – {pct(hi)}" in cell(dom, f'data-test="interval-{deadline["key"]}"')
    for ally in document["allies"]:
        row = re.search(rf'<tr data-code="{ally["code"]}">(.*?)</tr>', dom, re.S).group(1)
        assert cell(row, 'data-test="status"') == ally["status"]
        assert cell(row, 'data-test="p_endorse"') == pct(ally["p_endorse"])
        for key, p in ally["p_endorse_by"].items():
            assert cell(row, f'data-test="by-{key}"') == pct(p)
    assert_pivotal_shows(dom, document)
    assert "<polyline" in dom  # the probability-over-time chart was drawn
    assert document["run_id"] in dom
    assert "an item with a broken source" in dom and "https://" in dom
    assert "could not be shown" not in dom


def points(change: float) -> str:
    """The page's format of a change in points: a sign and one decimal."""
    return ("+" if change >= 0 else "\u2212") + f"{abs(100 * change):.1f}"


def assert_pivotal_shows(dom: str, document: dict) -> None:
    """ "What would move it": every undecided member with its reasons and, per deadline,
    P(confirmed) if it endorsed and the change against today's forecast; the five that
    move it most shown, the rest (if any) folded behind a button."""
    table = re.search(r'<table id="pivotal">(.*?)</table>', dom, re.S).group(1)
    rows = dict(re.findall(r'<tr data-pivotal="(\w+)"([^>]*)>', table))
    members = {a["code"]: a for a in document["pivotal"][0]["allies"]}
    assert set(rows) == set(members) and members
    moves = {
        code: max(
            a["change"] for p in document["pivotal"] for a in p["allies"] if a["code"] == code
        )
        for code in members
    }
    shown = {code for code, attrs in rows.items() if "hidden" not in attrs}
    assert len(shown) == min(5, len(rows))
    if len(rows) > 5:
        assert min(moves[c] for c in shown) >= max(moves[c] for c in set(rows) - shown)
        assert f"Show the other {len(rows) - 5} members" in dom
    else:
        assert "Show the other" not in dom
    for entry in document["pivotal"]:
        for ally in entry["allies"]:
            row = re.search(
                rf'<tr data-pivotal="{ally["code"]}"[^>]*>(.*?)</tr>', table, re.S
            ).group(1)
            reasons = "; ".join(ally["reasons"]) or f"{ally['status']}, no reason on record"
            assert cell(row, 'data-test="reasons"') == reasons
            assert cell(row, f'data-test="if-endorses-{entry["key"]}"') == pct(ally["if_endorses"])
            assert cell(row, f'data-test="change-{entry["key"]}"') == points(ally["change"])


def add_stored_evidence(running: Server, **fields: str) -> None:
    """Write an evidence row straight into the server's database (no validation)."""
    import datetime as dt

    from service.common.db import connect
    from service.common.tables import EvidenceRow

    database = connect(running.env["FORECAST_DATABASE_URL"])
    with database.sessions.begin() as session:
        session.add(
            EvidenceRow(
                id="ev_broken_source",
                ally="DD",
                kind="statement",
                date=dt.date(2024, 2, 20),
                reliability=1.0,
                origin="posted",
                created_at=dt.datetime.now(dt.UTC),
                **fields,
            )
        )
    database.dispose()
