"""Several questions in one service, as a person sees them: the question index
(``/questions`` in a browser) lists them in order with their numbers and a small chart,
each question's page under ``/questions/{slug}/`` shows that question's forecast, and a
switcher on every page links to the others.

One app serves four questions: the synthetic one (the default, published), a copy with
one more endorsement and another question and candidate (published: its numbers differ),
a copy on the live clock and a copy whose outcome is on record (neither published).
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from litestar.testing import TestClient

from forecast.data.dataset import load_dataset
from service.app import create_app
from service.common.db import connect, migrate
from service.evidence.service import seed_evidence
from service.questions.places import QuestionPlace, places
from service.runs.queue import in_transaction, queue_live_run
from service.settings import Settings
from tests.service.browser import Browser, Page
from tests.service.conftest import (
    DB_FILE,
    SAMPLER_CONFIG,
    make_settings,
    service_gate,
    serving,
)
from tests.service.page.test_live_page import READY, browser
from tests.service.page.test_page import pct
from tests.stand_in import StandInForecaster

SECOND = "second"
QUESTION = "Will the council confirm the other candidate, and by when?"
CANDIDATE = "Other Candidate"
EXTRA = "DD endorses the other candidate"
# The order GET /questions gives: open ones first (the default first), then by slug, then
# those whose outcome is on record.
ORDER = ["data", "open-live", SECOND, "aaa-closed"]
# The index's chart (questions.js): y = T + (1 - p) * (H - T - B).
SPARK_TOP, SPARK_SPAN = 6, 62


def question_copy(root: Path, data_dir: Path, slug: str, toml_head: str = "") -> Path:
    """A copy of the synthetic question named ``slug`` (``toml_head`` before its keys)."""
    folder = root / slug
    shutil.copytree(data_dir, folder)
    toml = folder / "question.toml"
    toml.write_text(f'slug = "{slug}"\n{toml_head}' + toml.read_text())
    return folder


def second_question(root: Path, data_dir: Path) -> Path:
    """Another question and candidate, opened later with one more endorsement: other
    numbers at another cut-off."""
    folder = question_copy(root, data_dir, SECOND)
    toml = folder / "question.toml"
    text = toml.read_text()
    text = text.replace(load_dataset(data_dir).question.question, QUESTION)
    text = text.replace('candidate = "Test Candidate"', f'candidate = "{CANDIDATE}"')
    toml.write_text(text.replace("opened = 2024-02-22", "opened = 2024-03-01"))
    with (folder / "evidence.csv").open("a") as handle:
        handle.write(f"DD,endorsement,2024-03-01,synthetic,{EXTRA},1,,\n")
    return folder


def prepare(settings: Settings, slug: str) -> QuestionPlace:
    """Migrate and seed a question's tables, as the API's start does (nothing published)."""
    place = next(p for p in places(settings) if p.slug == slug)
    database = connect(place.database_url, place.schema)
    try:
        migrate(database)
        seed_evidence(database, load_dataset(place.data_dir))
    finally:
        database.dispose()
    return place


def publish(settings: Settings, slug: str) -> None:
    """Prepare a question's tables and publish the stand-in's forecast there."""
    from service.worker.loop import process_one

    place = prepare(settings, slug)
    dataset = load_dataset(place.data_dir)
    database = connect(place.database_url, place.schema)
    try:
        run_id = in_transaction(
            database.sessions,
            lambda s: queue_live_run(s, dataset, trigger="startup", seed=settings.seed).id,
        )
        # The worker's settings for the question, as its lane has them.
        lane = dataclasses.replace(
            settings, data_dir=place.data_dir, artifacts_dir=place.artifacts_dir
        )
        stand_in = StandInForecaster(dataset, sampler_config=SAMPLER_CONFIG)
        with service_gate(stand_in) as forecaster:
            assert process_one(database.sessions, forecaster, lane) == run_id
    finally:
        database.dispose()


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, data_dir: Path, published_template: Path
) -> Settings:
    """Four questions: the default one and ``second`` published, two others not."""
    folders = tmp_path_factory.mktemp("questions")
    second = second_question(folders, data_dir)
    live = question_copy(folders, data_dir, "open-live", 'clock = "live"\n')
    closed = question_copy(folders, data_dir, "aaa-closed")
    for name in ("later.csv", "outcomes.csv"):  # what makes its outcome on record
        (closed / name).touch()
    root = tmp_path_factory.mktemp("served")
    shutil.copy(published_template / DB_FILE, root / DB_FILE)
    settings = make_settings(root, data_dir, questions=f"{second},{live},{closed}")
    publish(settings, SECOND)
    for slug in ("open-live", "aaa-closed"):
        prepare(settings, slug)
    return settings


@pytest.fixture(scope="module")
def index_client(served: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(served)) as client:
        yield client


@pytest.fixture(scope="module")
def url(served: Settings) -> Iterator[str]:
    with serving(served) as url:
        yield url


@pytest.fixture(scope="module")
def chrome() -> Iterator[Browser]:
    with browser() as chrome:
        yield chrome


def test_the_questions_are_listed_open_first_and_the_second_has_its_own_numbers(index_client):
    listed = index_client.get("/questions").json()["questions"]

    assert [q["slug"] for q in listed] == ORDER
    by_slug = {q["slug"]: q for q in listed}
    assert by_slug["aaa-closed"]["resolved"] and by_slug["aaa-closed"]["headline"] is None
    assert by_slug["open-live"]["clock"] == "live"
    default, second = by_slug["data"]["headline"], by_slug[SECOND]["headline"]
    assert second["as_of"] == "2024-03-01" != default["as_of"]
    assert second["deadlines"] != default["deadlines"]


def test_a_browser_asking_for_the_questions_gets_the_index_page_and_its_files(index_client):
    page = index_client.get("/questions", headers={"Accept": "text/html"})

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for script in ("format.js", "questions.js"):
        assert f'<script src="/static/{script}">' in page.text
        asset = index_client.get(f"/static/{script}")
        assert asset.status_code == 200
        assert asset.headers["content-type"].startswith("text/javascript")
    assert index_client.get("/static/page.css").headers["content-type"].startswith("text/css")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<a href="/track-record/page">' in page.text


def test_each_question_page_is_the_page_and_its_endpoints_answer_under_its_prefix(index_client):
    default_page = index_client.get("/")
    for slug in ORDER:
        page = index_client.get(f"/questions/{slug}/")
        assert page.status_code == 200 and page.text == default_page.text
    assert index_client.get(f"/questions/{SECOND}/forecast").json()["question"] == QUESTION
    assert index_client.get("/questions/nothing/").status_code == 404


def curve_ys(page: Page, selector: str) -> list[float]:
    points = page.evaluate(f"document.querySelector('{selector}').getAttribute('points')")
    return [float(p.split(",")[1]) for p in points.split()]


@pytest.mark.slow
def test_the_index_lists_the_questions_in_order_with_their_numbers_and_a_chart(url, chrome):
    listed = httpx.get(url + "/questions").json()["questions"]
    page = chrome.open(url + "/questions")
    page.wait("document.body.dataset.ready === '1'")

    shown = page.evaluate("[...document.querySelectorAll('article')].map(a => a.dataset.slug)")
    assert shown == ORDER
    for q in listed:
        entry = f'article[data-slug="{q["slug"]}"]'
        assert page.text(f"{entry} h2") == q["question"]
        link = page.evaluate(f"document.querySelector('{entry} h2 a').getAttribute('href')")
        assert link == q["links"]["page"]
        clock = page.text(f'{entry} [data-test="clock"]')
        h = q["headline"]
        if h is None:
            assert page.text(f'{entry} [data-test="nothing"]') == "Nothing published yet."
            assert page.evaluate(f"document.querySelector('{entry} svg')") is None
            continue
        assert page.text(f'{entry} [data-test="cut-off"]') == h["as_of"]
        for d in h["deadlines"]:
            assert page.text(f'{entry} [data-test="p-{d["key"]}"]') == pct(d["p_confirmed"])
            lo, hi = d["interval"]
            assert f"94% {pct(lo)} – {pct(hi)}" in page.text(
                f'{entry} [data-test="interval-{d["key"]}"]'
            )
            marker = f'{entry} svg line[data-deadline="{d["key"]}"]'
            assert page.evaluate(f"!!document.querySelector('{marker}')")
        assert page.text(f'{entry} [data-test="p-ever"]') == pct(h["p_ever_confirmed"])
        expected = [SPARK_TOP + (1 - c["p_confirmed"]) * SPARK_SPAN for c in h["curve"]]
        assert curve_ys(page, f'{entry} [data-test="curve"]') == pytest.approx(expected)
        assert page.evaluate(f"!!document.querySelector('{entry} [data-test=\"band\"]')")
        assert clock == "replayed from its evidence"
    assert page.text('article[data-slug="open-live"] [data-test="clock"]') == (
        "open: follows today's date"
    )
    assert page.text('article[data-slug="aaa-closed"] [data-test="clock"]') == (
        "replayed from its evidence · outcome on record"
    )


def switcher(page: Page) -> list[tuple[str, str, str | None]]:
    """The switcher's links: (text, href, aria-current)."""
    return page.evaluate(
        "[...document.querySelectorAll('#switcher a')].map(a => "
        "[a.textContent, a.getAttribute('href'), a.getAttribute('aria-current')])"
    )


@pytest.mark.slow
def test_a_question_page_shows_that_questions_forecast_and_links_to_the_others(url, chrome):
    listed = httpx.get(url + "/questions").json()["questions"]
    second = httpx.get(url + f"/questions/{SECOND}/forecast").json()
    default = httpx.get(url + "/forecast").json()
    page = chrome.open(url + f"/questions/{SECOND}/")
    page.wait(READY)

    assert page.text("#question") == QUESTION
    assert page.evaluate("document.body.dataset.run") == second["run_id"] != default["run_id"]
    cards = {d["key"]: pct(d["p_confirmed"]) for d in second["deadlines"]}
    assert {k: page.text(f'[data-test="p-{k}"]') for k in cards} == cards
    assert cards != {d["key"]: pct(d["p_confirmed"]) for d in default["deadlines"]}
    assert EXTRA in page.text("#evidence")  # its own evidence, history and changes
    assert "could not be shown" not in page.evaluate("document.body.textContent")
    expected = [
        (f"{q['candidate']} ({q['opened'][:4]})", q["links"]["page"], q["slug"] == SECOND)
        for q in listed
    ]
    links = switcher(page)
    assert [(text, href, current == "page") for text, href, current in links[:-1]] == expected
    assert links[-1][:2] == ["all questions", "/questions"]
    assert not page.evaluate("document.getElementById('switcher').hidden")

    # A what-if on it is that question's, and its link stays under the question's prefix.
    code = second["pivotal"][0]["allies"][0]["code"]
    page.evaluate(
        f"(() => {{ const s = document.querySelector('select[data-assume=\"{code}\"]');"
        " s.value = 'endorsed'; s.dispatchEvent(new Event('change')); })()"
    )
    page.wait(f"document.getElementById('whatif').dataset.assume === '{code}:endorsed' && {READY}")
    link = page.evaluate("document.getElementById('whatif-link').getAttribute('href')")
    assert link.startswith(f"/questions/{SECOND}/?assume={code}")
    assert page.evaluate("location.pathname") == f"/questions/{SECOND}/"

    # The default question's page at / is its own, and its switcher marks it.
    home = chrome.open(url + "/")
    home.wait(READY)
    assert home.evaluate("document.body.dataset.run") == default["run_id"]
    assert EXTRA not in home.text("#evidence")
    marked = [href for _, href, current in switcher(home) if current == "page"]
    assert marked == ["/questions/data/"]
