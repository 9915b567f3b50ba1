"""The forecast document's schema: what the pipeline checks each document against is what
the API describes (``ForecastOut`` is the document plus its freshness)."""

import datetime as dt

import msgspec
import pytest

from forecast.posterior.document import build_document
from forecast.posterior.schema import ForecastDocument, checked
from service.forecasts.schemas import ForecastOut
from tests.draws import make_draws

DIAGNOSTICS = {
    "passed": True,
    "r_hat_max": 1.002,
    "ess_bulk_min": 900.0,
    "ess_tail_min": 800.0,
    "divergences": 0,
    "attempts": 1,
    "sampler": "nutpie",
    "sample_seconds": 0.4,
    "chains": 4,
    "draws": 700,
}


def _document(**meta_overrides):
    meta = {
        "run_id": "r1",
        "published_at": "2024-02-22T12:00:00+00:00",
        "evidence_count": 3,
        "diagnostics": dict(DIAGNOSTICS),
        **meta_overrides,
    }
    return build_document(
        make_draws(),
        question="Will AA and BB agree?",
        candidate="A. Candidate",
        deadlines=[("spring", "By spring", dt.date(2024, 4, 2))],
        names={"AA": "Aland", "BB": "Bland"},
        meta=meta,
        by=[dt.date(2024, 5, 31)],
        assume={"AA": "endorsed"},
    )


def test_a_built_document_matches_the_schema_field_for_field():
    document = _document()
    assert checked(document) is document
    decoded = msgspec.json.decode(msgspec.json.encode(document), type=ForecastDocument)
    assert [d.key for d in decoded.deadlines] == ["spring", "by_2024-05-31"]
    assert decoded.diagnostics.chains == 4


def test_a_document_with_a_field_the_schema_does_not_declare_is_refused():
    with pytest.raises(msgspec.ValidationError, match="surprise"):
        checked(_document(surprise=1))


def test_diagnostics_with_a_key_the_schema_does_not_declare_are_refused():
    with pytest.raises(msgspec.ValidationError, match="rhat_rank"):
        checked(_document(diagnostics={**DIAGNOSTICS, "rhat_rank": 1.0}))


def test_a_document_missing_a_field_is_refused_naming_it():
    document = _document()
    del document["timing_form"]
    with pytest.raises(msgspec.ValidationError, match="timing_form"):
        checked(document)


def test_the_api_schema_is_the_document_and_its_freshness():
    fields = set(ForecastOut.__struct_fields__)
    assert fields - set(ForecastDocument.__struct_fields__) == {"freshness"}
    assert issubclass(ForecastOut, ForecastDocument)
