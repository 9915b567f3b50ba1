""" "What would move it" on the page: the members whose endorsing today moves the forecast
most come first with the reasons they hold out and the change beside each number, and the
rest are folded behind a button.

The page's own files are served beside a fixed forecast document (no model, no
database), and headless Chromium renders them, as in ``test_passed_deadlines``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator

import pytest

from tests.service.page import test_passed_deadlines as passed
from tests.service.page.test_page import assert_pivotal_shows, cell

# Seven undecided members, the first three holding out for reasons on record. Their
# changes by June differ from their order by the summit: the page ranks by the largest.
MEMBERS = [
    ("GG", ["a rival candidacy"], 0.010, 0.030),
    ("HH", ["an open grievance (its own or its bloc's)", "a public objection"], 0.050, 0.020),
    ("II", ["an open grievance (its own or its bloc's)"], 0.020, 0.025),
    ("JJ", [], 0.0, 0.001),
    ("KK", [], 0.0, 0.0),
    ("LL", [], 0.0, 0.0),
    ("MM", [], 0.0, 0.0),
]
TODAY = {"june": 0.4, "summit": 0.6}
DOCUMENT = copy.deepcopy(passed.DOCUMENT)
DOCUMENT["pivotal"] = [
    {
        "key": key,
        "p_confirmed": TODAY[key],
        "allies": sorted(
            (
                {
                    "code": code,
                    "name": f"Ally {code}",
                    "status": "opposed" if "a public objection" in reasons else "undecided",
                    "reasons": reasons,
                    "if_endorses": TODAY[key] + (june if key == "june" else summit),
                    "if_refuses": 0.0,
                    "change": june if key == "june" else summit,
                }
                for code, reasons, june, summit in MEMBERS
            ),
            key=lambda a: -a["change"],
        ),
    }
    for key in ("june", "summit")
]


class Stub(passed.Stub):
    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/forecast":
            self.answer(json.dumps(DOCUMENT).encode(), "application/json", etag='"run-1"')
        else:
            super().do_GET()


@pytest.fixture(scope="module")
def dom() -> Iterator[str]:
    yield from passed.rendered(Stub)


def test_the_five_that_move_it_most_come_first_and_the_rest_are_folded(dom):
    assert 'data-ready="1"' in dom
    assert_pivotal_shows(dom, DOCUMENT)
    table = re.search(r'<table id="pivotal">(.*?)</table>', dom, re.S).group(1)
    order = re.findall(r'<tr data-pivotal="(\w+)"', table)
    # By the largest change at any deadline: HH (5 points by June), GG (3 by the summit),
    # II (2.5), JJ (0.1), then the silent ones in the document's order.
    assert order[:4] == ["HH", "GG", "II", "JJ"]
    row = re.search(r'<tr data-pivotal="HH"[^>]*>(.*?)</tr>', table, re.S).group(1)
    assert cell(row, 'data-test="change-june"') == "+5.0"
    assert cell(row, 'data-test="reasons"') == (
        "an open grievance (its own or its bloc's); a public objection"
    )
    assert "(now 40.0%)" in table
