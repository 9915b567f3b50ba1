"""The page says how old the forecast's cut-off is and how it moves: a replay's cut-off is
its newest evidence; a question on the live clock is behind once the day has moved."""

from __future__ import annotations

import json

import pytest

from tests.service.page.test_page import cell
from tests.service.page.test_passed_deadlines import DOCUMENT, Stub, rendered


def stub_with(freshness: dict) -> type[Stub]:
    document = DOCUMENT | {"freshness": freshness}

    class WithFreshness(Stub):
        def do_GET(self) -> None:  # http.server calls it by this name
            if self.path.split("?")[0] == "/forecast":
                self.answer(json.dumps(document).encode(), "application/json", etag='"f"')
            else:
                super().do_GET()

    return WithFreshness


FRESH = {"up_to_date": True, "pending_evidence": [], "pending_run": None, "failed_run": None}


@pytest.mark.parametrize(
    ("freshness", "state", "text"),
    [
        (
            FRESH | {"clock": "evidence", "cut_off_age_days": 3},
            "up_to_date",
            "Up to date: this forecast reflects every stored evidence item. Cut-off "
            "2024-05-01 (3 days ago; a replay: it is the newest evidence date).",
        ),
        (
            FRESH | {"clock": "live", "cut_off_age_days": 0},
            "up_to_date",
            "Up to date: this forecast reflects every stored evidence item. Cut-off "
            "2024-05-01 (today; it follows today's date).",
        ),
        (
            FRESH
            | {
                "up_to_date": False,
                "pending_run": {"run_id": "run-2", "status": "queued"},
                "clock": "live",
                "cut_off_age_days": 1,
            },
            "pending",
            "Updating: the days since 2024-05-01 not reflected yet; run run-2 is queued. "
            "Cut-off 2024-05-01 (1 day ago; it follows today's date).",
        ),
    ],
)
def test_the_page_shows_the_cut_offs_age_and_clock(freshness, state, text):
    (dom,) = list(rendered(stub_with(freshness)))
    assert f'data-state="{state}"' in dom
    assert cell(dom, 'id="freshness"') == text
