"""Before the first forecast, the page says what the worker is doing: compiling the model,
for how long so far and about how long is left, or fitting the first run."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from tests.service.page.test_page import cell
from tests.service.page.test_passed_deadlines import Stub, rendered


def stub_with(health: dict) -> type[Stub]:
    class Preparing(Stub):
        def do_GET(self) -> None:  # http.server calls it by this name
            path = self.path.split("?")[0]
            if path == "/forecast":
                body = b'{"title": "no forecast yet", "status": 503}'
                self.send_response(503)
                self.send_header("Content-Type", "application/problem+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif path == "/health":
                self.answer(json.dumps(health).encode(), "application/json")
            else:
                super().do_GET()

    return Preparing


def health(worker: dict | None, running: int = 0, queued: int = 0) -> dict:
    return {
        "status": "ok",
        "forecast": None,
        "running": running,
        "queued": queued,
        "worker": worker,
    }


def compiling(expected: float | None) -> dict:
    """A worker that began compiling 12 s ago."""
    started = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=12)).isoformat()
    return {
        "pid": 1,
        "writes_enabled": True,
        "reported_at": started,
        "phase": "compiling",
        "phase_started_at": started,
        "expected_seconds": expected,
    }


def heading(dom: str) -> str:
    return cell(dom, 'id="question"')


def test_while_the_model_compiles_the_page_counts_down_from_the_last_compile():
    (dom,) = list(rendered(stub_with(health(compiling(50.0)))))
    text = heading(dom)
    assert 'data-phase="compiling"' in dom
    assert text.startswith("Preparing the first forecast: compiling the model, ")
    spent, left = (int(n) for n in re.findall(r"(\d+) s (?:so far|left)", text))
    assert 12 <= spent <= 40 and spent + left in (50, 51)
    assert "the last compile took 50 s" in text


def test_a_first_compile_on_a_machine_says_it_takes_a_minute_or_two():
    (dom,) = list(rendered(stub_with(health(compiling(None)))))
    assert "takes a minute or two" in heading(dom)


@pytest.mark.parametrize(("running", "queued"), [(1, 0), (0, 1)])
def test_once_compiled_the_page_says_the_first_run_is_being_fitted(running, queued):
    ready = compiling(50.0) | {"phase": "ready", "phase_started_at": None}
    (dom,) = list(rendered(stub_with(health(ready, running, queued))))
    assert heading(dom) == (
        f"Preparing the first forecast: fitting it ({running} run fitting, {queued} queued)."
    )
