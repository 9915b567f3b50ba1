"""GET /forecast's ``by`` and ``assume`` read from their text (``service.forecasts.parameters``)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forecast.data.records import ValidationError
from service.forecasts.parameters import MAX_BY_DATES, parse_assume, parse_by

CODES = ("AA", "BB", "CC")


def problem_of(call) -> tuple[str, str]:
    with pytest.raises(ValidationError) as caught:
        call()
    (problem,) = caught.value.problems
    return problem.field, problem.valid


def test_parse_by_reads_comma_separated_dates():
    assert parse_by("2024-04-02, 2024-05-31") == [dt.date(2024, 4, 2), dt.date(2024, 5, 31)]


def test_parse_by_of_nothing_is_no_dates():
    assert parse_by(None) == parse_by(" ") == []


@pytest.mark.parametrize("text", ["2024-13-01", "tomorrow", "2024-04-02,", "02/04/2024"])
def test_parse_by_refuses_a_bad_date_naming_by_and_the_form(text):
    field, valid = problem_of(lambda: parse_by(text))
    assert field == "by"
    assert "YYYY-MM-DD" in valid


def test_parse_by_refuses_too_many_dates_naming_the_limit():
    text = ",".join(["2024-04-02"] * (MAX_BY_DATES + 1))
    field, valid = problem_of(lambda: parse_by(text))
    assert (field, f"up to {MAX_BY_DATES} dates") == (
        "by",
        valid[: len(f"up to {MAX_BY_DATES} dates")],
    )


def test_parse_assume_reads_code_outcome_pairs():
    assert parse_assume("aa:endorsed, BB:opposed", CODES) == {"AA": "endorsed", "BB": "opposed"}


def test_parse_assume_refuses_an_unknown_ally_listing_the_valid_codes():
    assert problem_of(lambda: parse_assume("ZZ:endorsed", CODES)) == ("assume", "AA, BB, CC")


def test_parse_assume_refuses_an_unknown_outcome_listing_the_valid_outcomes():
    assert problem_of(lambda: parse_assume("AA:maybe", CODES)) == ("assume", "endorsed, opposed")


@pytest.mark.parametrize("text", ["AA", "AA=endorsed", "AAA:endorsed", ":endorsed"])
def test_parse_assume_refuses_a_malformed_pair_showing_the_form(text):
    field, valid = problem_of(lambda: parse_assume(text, CODES))
    assert field == "assume"
    assert "HU:endorsed" in valid


@given(st.text(max_size=40))
def test_parse_by_either_parses_or_names_the_field(text):
    try:
        dates = parse_by(text)
    except ValidationError as exc:
        assert [p.field for p in exc.problems] == ["by"]
    else:
        assert all(isinstance(d, dt.date) for d in dates)


@given(st.text(max_size=40))
def test_parse_assume_either_parses_or_names_the_field(text):
    try:
        assumed = parse_assume(text, CODES)
    except ValidationError as exc:
        assert [p.field for p in exc.problems] == ["assume"]
    else:
        assert set(assumed) <= set(CODES)
        assert set(assumed.values()) <= {"endorsed", "opposed"}
