"""Bad input: every 4xx is a problem naming the field and its valid values; nothing is stored."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from forecast.data.clock import today
from forecast.data.records import (
    EVIDENCE_FIELDS,
    EVIDENCE_KINDS,
    ValidationError,
    validate_evidence,
)
from service.common.db import connect
from service.common.tables import EvidenceRow, RunRow
from service.evidence.service import EvidenceService, posted_grievances
from tests.service.conftest import AUTH, TOKEN, endorsement


def stored(settings) -> tuple[int, int]:
    """(evidence rows, runs): what a rejected request must leave unchanged."""
    database = connect(settings.database_url)
    try:
        with database.reader() as session:
            evidence = session.scalar(select(func.count()).select_from(EvidenceRow))
            runs = session.scalar(select(func.count()).select_from(RunRow))
            return evidence or 0, runs or 0
    finally:
        database.dispose()


def evidence_case(case_id: str, status: int, field: str, valid: str, **changes: Any):
    """A POST /evidence of the valid example with ``changes`` (``...`` drops a field)."""
    body = {k: v for k, v in (endorsement() | changes).items() if v is not ...}
    return case(case_id, "post", "/evidence", status, field, valid, json=body)


def case(case_id: str, method: str, path: str, status: int, field: str, valid: str, **kwargs):
    """A request, the status it gets, the field its problem names, text in that `valid`."""
    return pytest.param(method, path, kwargs, status, field, valid, id=case_id)


def run_case(case_id: str, status: int, field: str, valid: str, **body: Any):
    return case(case_id, "post", "/runs", status, field, valid, json=body)


NO_AUTH: dict[str, str] = {}
WRONG = {"Authorization": "Bearer not-the-token"}
BASIC = {"Authorization": f"Basic {TOKEN}"}
BAD_REQUESTS = [
    evidence_case("unknown-ally", 422, "ally", "AA, BB", ally="XX"),
    evidence_case("ally-not-text", 422, "ally", "AA, BB", ally=7),
    evidence_case("missing-ally", 422, "ally", "AA, BB", ally=...),
    evidence_case("bad-kind", 422, "kind", "grievance_resolved", kind="rumour"),
    evidence_case("date-format", 422, "date", "YYYY-MM-DD", date="01/03/2024"),
    evidence_case("no-such-day", 422, "date", "YYYY-MM-DD", date="2024-02-30"),
    evidence_case("future-date", 422, "date", "1949-04-04 to", date="2999-01-01"),
    evidence_case("before-nato", 422, "date", "1949-04-04", date="1900-01-01"),
    evidence_case("missing-summary", 422, "summary", "characters", summary=...),
    evidence_case("blank-summary", 422, "summary", "characters", summary="   "),
    evidence_case("long-source", 422, "source", "500", source="s" * 501),
    evidence_case("unknown-field", 422, "confidence", "reliability", confidence=0.5),
    evidence_case("reliability-zero", 422, "reliability", "(0, 1]", reliability=0),
    evidence_case("reliability-big", 422, "reliability", "(0, 1]", reliability=1.5),
    evidence_case("reliability-word", 422, "reliability", "(0, 1]", reliability="high"),
    evidence_case("reliability-bool", 422, "reliability", "(0, 1]", reliability=True),
    evidence_case("severity-not-grievance", 422, "severity", "empty", severity=2),
    evidence_case("grievance-no-severity", 422, "severity", "blocking", kind="grievance"),
    evidence_case("severity-four", 422, "severity", "blocking", kind="grievance", severity=4),
    evidence_case("resolved-nothing", 422, "grievance", "ee_veto", kind="grievance_resolved"),
    evidence_case(
        "resolved-unknown", 422, "grievance", "ee_veto", kind="grievance_resolved", grievance="x"
    ),
    evidence_case("grievance-not-resolved", 422, "grievance", "empty", grievance="ee_veto"),
    evidence_case("body-too-large", 413, "body", "65536", summary="x" * (64 * 1024 + 1)),
    evidence_case("source-scheme-only", 422, "source", "http(s) URL", source="https://"),
    evidence_case("source-no-host", 422, "source", "http(s) URL", source="http:///path"),
    evidence_case("source-script", 422, "source", "citation", source="javascript:alert(1)"),
    evidence_case("source-bad-port", 422, "source", "citation", source="https://a.org:x/"),
    evidence_case("source-ftp", 422, "source", "http(s)", source="ftp://example.org/file"),
    # A browser ignores spaces, tabs and newlines in and around a scheme, and its case.
    evidence_case("script-space", 422, "source", "citation", source="javascript: alert(1)"),
    evidence_case("script-tab", 422, "source", "citation", source="java\tscript:alert(1)"),
    evidence_case("script-newline", 422, "source", "citation", source="javas\ncript:x()"),
    evidence_case("script-lead", 422, "source", "citation", source=" JavaScript:alert(1)"),
    evidence_case("script-gap", 422, "source", "citation", source="javascript :alert(1)"),
    evidence_case("data-url", 422, "source", "citation", source="DATA:text/html,<b>x</b>"),
    evidence_case("data-space", 422, "source", "citation", source="data: text/html,x"),
    evidence_case("vbscript", 422, "source", "citation", source="VBScript:\tmsgbox(1)"),
    # Invisible formatting characters in any text field, named with the character.
    evidence_case("summary-rlo", 422, "summary", "U+202A", summary="SK \u202egnisoppo\u202c"),
    evidence_case("summary-isolate", 422, "summary", "U+2066", summary="a \u2067b\u2069"),
    evidence_case("summary-mark", 422, "summary", "bidirectional", summary="a\u200fb"),
    evidence_case("summary-alm", 422, "summary", "U+061C", summary="a\u061cb"),
    evidence_case("summary-zwsp", 422, "summary", "zero-width", summary="ba\u200bcks"),
    evidence_case("summary-zwj", 422, "summary", "zero-width", summary="a\u200db"),
    evidence_case("summary-wj", 422, "summary", "U+2060", summary="a\u2060b"),
    evidence_case("summary-bom", 422, "summary", "U+FEFF", summary="\ufeffDD endorses"),
    evidence_case("source-rlo", 422, "source", "bidirectional", source="Reuters \u202e42"),
    evidence_case("source-zwsp", 422, "source", "zero-width", source="https://exa\u200bmple.org"),
    evidence_case("ally-zwsp", 422, "ally", "zero-width", ally="D\u200bD"),
    evidence_case("summary-nul", 422, "summary", "control characters", summary="a\x00b"),
    evidence_case("summary-escape", 422, "summary", "tab and newline", summary="a\x1b[2J"),
    evidence_case("summary-c1", 422, "summary", "control", summary="a\x85b"),
    evidence_case("source-nul", 422, "source", "control", source="Reuters\x00"),
    evidence_case("ally-nul", 422, "ally", "control", ally="D\x00"),
    case("body-not-utf8", "post", "/evidence", 400, "body", "UTF-8", content=b'{"ally": "\xff"}'),
    case("body-deep", "post", "/evidence", 400, "body", "32", content=b"[" * 20000 + b"]" * 20000),
    case("run-not-utf8", "post", "/runs", 400, "body", "UTF-8", content=b'{"as_of": "\xfe"}'),
    case("run-deep", "post", "/runs", 400, "body", "nested", content=b'{"a":' * 5000 + b"1"),
    case("evidence-bad-cursor", "get", "/evidence?cursor=abc", 400, "cursor", "Link header"),
    case("evidence-limit-big", "get", "/evidence?limit=501", 400, "limit", "500"),
    case("history-bad-cursor", "get", "/forecast/history?cursor=e30", 400, "cursor", "Link"),
    case("body-list", "post", "/evidence", 400, "body", "summary", json=[endorsement()]),
    case("body-string", "post", "/evidence", 400, "body", "ally", json="endorsement"),
    case("body-empty", "post", "/evidence", 400, "body", "ally", content=b""),
    case("body-malformed", "post", "/evidence", 400, "body", "ally", content=b'{"ally": "DD",'),
    case("body-nan", "post", "/evidence", 400, "body", "ally", content=b'{"reliability": NaN}'),
    case("no-token", "post", "/evidence", 401, "Authorization", "Bearer", headers=NO_AUTH),
    case("wrong-token", "post", "/evidence", 401, "Authorization", "Bearer", headers=WRONG),
    case("basic-auth", "post", "/evidence", 401, "Authorization", "Bearer", headers=BASIC),
    run_case("run-early", 422, "as_of", "2023-10-26", as_of="2023-01-01"),
    run_case("run-future", 422, "as_of", "2023-10-26", as_of="2999-01-01"),
    run_case("run-not-a-date", 422, "as_of", "", as_of="March"),
    run_case("run-no-as-of", 422, "as_of", "", seed=1),
    run_case("run-seed", 422, "seed", "4294967295", as_of="2024-03-01", seed=-1),
    run_case("run-seed-word", 422, "seed", "integer", as_of="2024-03-01", seed="one"),
    run_case("run-unknown-field", 422, "draws", "as_of, seed", as_of="2024-03-01", draws=9),
    case("run-no-token", "post", "/runs", 401, "Authorization", "Bearer", headers=NO_AUTH),
    case("by-not-a-date", "get", "/forecast?by=soon", 400, "by", "YYYY-MM-DD"),
    case("by-too-many", "get", "/forecast?by=" + ",".join(["2024-03-01"] * 11), 400, "by", "10"),
    case("as-of-format", "get", "/forecast?as_of=2024-13-01", 400, "as_of", "YYYY-MM-DD"),
    case("assume-ally", "get", "/forecast?assume=ZZ:endorsed", 400, "assume", "AA, BB"),
    case("assume-outcome", "get", "/forecast?assume=EE:maybe", 400, "assume", "opposed"),
    case("assume-no-outcome", "get", "/forecast?assume=EE", 400, "assume", "endorsed"),
    case("runs-limit-zero", "get", "/runs?limit=0", 400, "limit", "500"),
    case("runs-limit-word", "get", "/runs?limit=all", 400, "limit", "500"),
    case("runs-bad-status", "get", "/runs?status=done", 400, "status", "succeeded"),
    case("unknown-run", "get", "/runs/run_nope", 404, "run_id", "GET /runs"),
    case("unknown-ally-page", "get", "/allies/ZZ", 404, "code", "AA, BB"),
    case("evidence-bad-ally", "get", "/evidence?ally=ZZ", 400, "ally", "AA, BB"),
    case(
        "evidence-bad-flag",
        "get",
        "/evidence?include_retracted=maybe",
        400,
        "include_retracted",
        "true",
    ),
    case("retract-unknown", "delete", "/evidence/ev_nope", 404, "evidence_id", "GET /evidence"),
    case(
        "retract-no-token",
        "delete",
        "/evidence/ev_nope",
        401,
        "Authorization",
        "Bearer",
        headers=NO_AUTH,
    ),
    case("no-such-path", "get", "/nowhere", 404, "path", "/schema"),
    case("wrong-method", "put", "/evidence", 405, "method", "POST", json=endorsement()),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "field", "valid"), BAD_REQUESTS)
def test_bad_request_is_a_problem_naming_the_field_and_stores_nothing(
    client, settings, method, path, kwargs, status, field, valid
):
    before = stored(settings)
    response = client.request(method.upper(), path, **{"headers": AUTH, **kwargs})
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == status
    assert problem["type"].startswith("urn:forecast:problem:")
    assert problem["title"] and problem["detail"]
    named = {e["field"]: e for e in problem["errors"]}
    assert field in named, problem
    assert valid in named[field]["valid"], named[field]
    assert stored(settings) == before


def test_unexpected_error_is_a_logged_500_problem_without_internals(client, monkeypatch, caplog):
    def explode(*_args, **_kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(EvidenceService, "page", explode)
    response = client.get("/evidence")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "secret" not in response.text
    assert "secret internals" in caplog.text


def test_text_with_tab_and_newline_and_a_plain_citation_is_accepted(client):
    body = endorsement(summary="line one\n\tline two", source="Reuters: 22 Feb 2024, p. 3")
    assert client.post("/evidence", json=body, headers=AUTH).status_code == 201


@pytest.mark.parametrize(
    ("text", "character"),
    [
        ("Slovakia \u202egnisoppo\u202c backs Rutte", "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        ("Hungary backs\u200b Rutte", "U+200B (ZERO WIDTH SPACE)"),
        ("\u2066Turkey\u2069 backs Rutte", "U+2066 (LEFT-TO-RIGHT ISOLATE)"),
    ],
)
def test_invisible_formatting_character_is_refused_naming_the_character(
    client, settings, text, character
):
    before = stored(settings)
    response = client.post("/evidence", json=endorsement(summary=text), headers=AUTH)
    assert response.status_code == 422
    (problem,) = response.json()["errors"]
    assert problem["field"] == "summary"
    assert character in problem["message"]
    assert stored(settings) == before


@pytest.mark.parametrize(
    "source",
    [
        "https://example.org/news?id=1",
        "HTTP://example.org/",
        "evidence.csv",
        "Reuters: 22 Feb 2024, p. 3",
        "Politico, 'Rutte: a javascript: primer', 2024",
        "javadoc: not a scheme",
    ],
)
def test_web_addresses_and_citations_without_a_scheme_are_still_accepted(client, source):
    body = endorsement(source=source, summary=f"DD endorses the candidate ({source})")
    assert client.post("/evidence", json=body, headers=AUTH).status_code == 201


def test_repeated_wrong_tokens_from_one_client_get_429_for_a_while(client):
    from service.http.auth import MAX_FAILURES

    for _ in range(MAX_FAILURES):
        assert client.post("/evidence", json=endorsement(), headers=WRONG).status_code == 401
    for headers in (WRONG, NO_AUTH):
        refused = client.post("/evidence", json=endorsement(), headers=headers)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) > 0
        assert refused.json()["errors"][0]["field"] == "Authorization"
    assert client.get("/evidence").status_code == 200  # reads are not affected


def test_the_right_token_passes_after_wrong_tokens_from_the_same_client(client, caplog):
    from service.http.auth import MAX_FAILURES

    for _ in range(MAX_FAILURES + 5):
        client.post("/evidence", json=endorsement(), headers=WRONG)
    assert client.post("/evidence", json=endorsement(), headers=WRONG).status_code == 429
    assert client.post("/evidence", json=endorsement(), headers=AUTH).status_code == 201
    assert client.post("/evidence", json=endorsement(ally="EE"), headers=AUTH).status_code == 201
    assert client.post("/evidence", json=endorsement(), headers=WRONG).status_code == 429
    # One warning per wrong token up to the limit, none for the refused ones after it.
    assert caplog.text.count("a wrong bearer token") == MAX_FAILURES


def test_failed_attempts_expire_after_the_window():
    from service.http.auth import FailedAttempts

    now = [0.0]
    attempts = FailedAttempts(limit=2, window=60, clock=lambda: now[0])
    attempts.record("a")
    attempts.record("a")
    assert attempts.retry_after("a") == 60 and attempts.retry_after("b") == 0
    now[0] = 61.0
    assert attempts.retry_after("a") == 0


def test_writes_answer_401_when_the_server_has_no_token(settings, data_dir):
    from dataclasses import replace

    from litestar.testing import TestClient

    from service.app import create_app

    with TestClient(create_app(replace(settings, api_token=None))) as client:
        response = client.post("/evidence", json=endorsement(), headers=AUTH)
        assert response.status_code == 401
        assert "FORECAST_API_TOKEN" in response.json()["detail"]
        assert client.get("/health").json()["writes_enabled"] is False


# Random JSON: mostly near-valid evidence with one field changed, some arbitrary values.
_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        ["DD", "ZZ", "dd", "2024-03-01", "2999-01-01", "2024-02-30", "ee_veto", *EVIDENCE_KINDS]
    ),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
_near_valid = st.builds(
    lambda base, field, value, drop: {
        **{k: v for k, v in base.items() if k != drop},
        **({field: value} if field else {}),
    },
    st.sampled_from([endorsement(), endorsement(kind="grievance", severity=2)]),
    st.one_of(st.none(), st.sampled_from([*EVIDENCE_FIELDS, "id", "extra"])),
    _values,
    st.one_of(st.none(), st.sampled_from(EVIDENCE_FIELDS)),
)
_bodies = st.one_of(
    _near_valid,
    st.dictionaries(st.sampled_from([*EVIDENCE_FIELDS, "x"]), _values, max_size=9),
    _values,
)


@hypothesis_settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=_bodies)
def test_random_evidence_never_errors_and_stores_only_valid_items(client, settings, dataset, body):
    before, _ = stored(settings)
    content = json.dumps(body, allow_nan=True).encode()
    response = client.post(
        "/evidence",
        content=content,
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert response.status_code < 500, response.text
    after, _ = stored(settings)
    if response.status_code in (200, 201):
        database = connect(settings.database_url)
        with database.reader() as session:
            vocabulary = dataset.vocabulary(posted_grievances(session))
        database.dispose()
        try:
            item = validate_evidence(body, vocabulary, latest=today())
        except ValidationError as exc:
            pytest.fail(f"stored an invalid item {body!r}: {exc}")
        assert response.json()["evidence_id"] == item.id
        assert after == before + (response.status_code == 201)
    else:
        assert 400 <= response.status_code < 500
        assert response.json()["errors"], response.text
        assert after == before
