"""The page in a real browser kept open: it follows a new publication without a reload,
shows what-ifs the API computes, and says when the forecast is not up to date."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from forecast.model.gate import GateConfig
from tests.service.browser import CHROMIUM, Browser, Page
from tests.service.conftest import AUTH, endorsement, fit_next, missing, serving
from tests.service.page.test_page import pct

READY = "document.body.dataset.ready === '1'"
# The chart's y axis (page.js): y = T + (1 - p) * (H - T - B).
CHART_TOP, CHART_SPAN = 10, 220


@contextmanager
def browser() -> Iterator[Browser]:
    if CHROMIUM is None:
        missing("chromium")
    chrome = Browser()
    try:
        yield chrome
    finally:
        chrome.close()


def get_what_if(url: str, assume: str) -> dict:
    for _ in range(100):  # a busy what-if pool answers 503: ask again
        response = httpx.get(url + "/forecast", params={"assume": assume}, timeout=30)
        if response.status_code != 503:
            assert response.status_code == 200, response.text
            return response.json()
        time.sleep(0.2)
    raise AssertionError("the what-if stayed busy")


def assert_page_shows(page: Page, document: dict) -> None:
    """Every deadline's probability and interval, and the pivotal table, as the API says."""
    for deadline in document["deadlines"]:
        assert page.text(f'[data-test="p-{deadline["key"]}"]') == pct(deadline["p_confirmed"])
        lo, hi = deadline["interval"]
        assert f"{pct(lo)} – {pct(hi)}" in page.text(f'[data-test="interval-{deadline["key"]}"]')
    rows = page.evaluate("[...document.querySelectorAll('#pivotal tbody tr')].length")
    assert rows == len(document["pivotal"][0]["allies"]) > 0
    for entry in document["pivotal"]:
        for ally in entry["allies"]:
            row = f'#pivotal tr[data-pivotal="{ally["code"]}"]'
            key = entry["key"]
            assert page.text(f'{row} [data-test="if-endorses-{key}"]') == pct(ally["if_endorses"])
            assert page.text(f'{row} [data-test="if-refuses-{key}"]') == pct(ally["if_refuses"])


def curve_ys(page: Page) -> list[float]:
    points = page.evaluate("document.querySelector('[data-test=curve]').getAttribute('points')")
    return [float(p.split(",")[1]) for p in points.split()]


@pytest.mark.slow
def test_the_open_page_shows_a_new_publication_and_what_changed_without_a_reload(
    published, forecaster
):
    with serving(published) as url, browser() as chrome:
        page = chrome.open(url + "/")
        page.wait(READY)
        first_run = page.evaluate("document.body.dataset.run")
        page.evaluate("window.sameDocument = 'yes'")

        posted = httpx.post(url + "/evidence", json=endorsement("DD"), headers=AUTH).json()
        page.wait("document.getElementById('freshness').dataset.state === 'pending'")
        assert posted["evidence_id"] in page.text("#freshness")
        assert fit_next(published, forecaster) == posted["run_id"]
        page.wait(f"document.body.dataset.run === {json.dumps(posted['run_id'])} && {READY}")

        assert page.evaluate("window.sameDocument") == "yes"  # never reloaded
        document = httpx.get(url + "/forecast").json()
        assert document["run_id"] == posted["run_id"] != first_run
        assert_page_shows(page, document)
        assert page.evaluate("document.getElementById('freshness').dataset.state") == "up_to_date"
        change = httpx.get(url + f"/forecast/changes/{posted['run_id']}").json()
        item = f'#changes li[data-run="{posted["run_id"]}"]'
        assert (
            page.evaluate(f"document.querySelector('{item}').dataset.evidence")
            == (posted["evidence_id"])
        )
        shown = page.text(item)
        assert "DD endorses the candidate" in shown
        for d in change["deadlines"]:
            assert f"{pct(d['before'])} → {pct(d['after'])}" in shown
        # Each point of the chart names the evidence behind it.
        titles = page.texts(f'circle[data-run="{posted["run_id"]}"] title')
        assert titles and all("DD endorses the candidate" in t for t in titles)


@pytest.mark.slow
def test_a_what_if_set_on_the_page_shows_the_apis_numbers_and_a_link_that_reproduces_it(
    published,
):
    with serving(published) as url, browser() as chrome:
        page = chrome.open(url + "/")
        page.wait(READY)
        live = httpx.get(url + "/forecast").json()
        code = live["pivotal"][0]["allies"][0]["code"]
        page.evaluate(
            f"(() => {{ const s = document.querySelector('select[data-assume=\"{code}\"]');"
            " s.value = 'endorsed'; s.dispatchEvent(new Event('change')); })()"
        )
        page.wait(
            f"document.getElementById('whatif').dataset.assume === '{code}:endorsed' && {READY}"
        )

        what_if = get_what_if(url, f"{code}:endorsed")
        assert what_if["assume"] == {code: "endorsed"}
        assert_page_shows(page, what_if)
        expected = [CHART_TOP + (1 - c["p_confirmed"]) * CHART_SPAN for c in what_if["curve"]]
        assert curve_ys(page) == pytest.approx(expected, abs=1e-6)
        assert code not in page.evaluate(
            "[...document.querySelectorAll('#pivotal tbody tr')].map(r => r.dataset.pivotal)"
        )
        assert "not the published forecast" in page.text("#whatif")
        link = page.evaluate("document.getElementById('whatif-link').getAttribute('href')")
        assert re.fullmatch(rf"/\?assume={code}(%3A|:)endorsed", link)

        again = chrome.open(url + link)
        again.wait(f"{READY} && !document.getElementById('whatif').hidden")
        assert_page_shows(again, what_if)
        # Back to the forecast: the published numbers again.
        page.evaluate("document.getElementById('whatif-reset').click()")
        page.wait(f"document.getElementById('whatif').hidden && {READY}")
        assert_page_shows(page, live)


@pytest.mark.slow
def test_after_a_rerun_fails_the_gate_the_api_and_the_page_say_the_forecast_is_stale(
    published, forecaster
):
    with serving(published) as url, browser() as chrome:
        posted = httpx.post(url + "/evidence", json=endorsement("DD"), headers=AUTH).json()
        forecaster.gate = GateConfig(ess_bulk_min=1e9)  # the fixture restores the gate
        assert fit_next(published, forecaster) == posted["run_id"]
        state = httpx.get(url + "/forecast").json()["freshness"]
        assert state["up_to_date"] is False
        assert state["pending_evidence"] == [posted["evidence_id"]]
        assert state["failed_run"]["run_id"] == posted["run_id"]
        assert "gate" in state["failed_run"]["reason"]

        page = chrome.open(url + "/")
        page.wait(READY)

        assert page.evaluate("document.getElementById('freshness').dataset.state") == "failed"
        shown = page.text("#freshness")
        assert "Not up to date" in shown
        assert posted["run_id"] in shown and state["failed_run"]["reason"] in shown
        assert posted["evidence_id"] in shown
