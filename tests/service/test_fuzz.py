"""Fuzzing: schemathesis over the OpenAPI schema, and random paths and queries on every GET."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from service.app import create_app
from service.settings import Settings
from tests.service.conftest import TOKEN, serving

GET_PATHS = (
    "/forecast?as_of={}",
    "/forecast?by={}",
    "/forecast?assume={}",
    "/forecast?by={}&assume={}",
    "/allies/{}",
    "/runs/{}",
    "/evidence?ally={}",
    "/{}",
    "/forecast/{}",
)
# Any text a client could put in a URL, including separators and percent-escapes.
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=40)


@pytest.fixture
def published_app_client(published: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(published)) as client:
        yield client


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(template=st.sampled_from(GET_PATHS), first=TEXT, second=TEXT)
def test_no_get_path_or_query_produces_a_server_error(
    published_app_client: TestClient, template: str, first: str, second: str
):
    from urllib.parse import quote

    url = template.format(quote(first, safe=""), quote(second, safe=""))
    response = published_app_client.get(url)
    assert response.status_code < 500, (url, response.text)


# No 5xx, and every answer matches the schema: its status is documented, its body and
# content type are the ones documented for it.
CHECKS = (
    "not_a_server_error,response_schema_conformance,status_code_conformance,"
    "content_type_conformance"
)


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_answers_match_the_schema(
    published: Settings, tmp_path: Path
):
    cli = shutil.which("st", path=str(Path(sys.executable).parent))
    assert cli is not None, "schemathesis is a locked dev dependency"
    with serving(published) as url:
        result = subprocess.run(
            [
                cli,
                "run",
                f"{url}/schema/openapi.json",
                "--checks",
                CHECKS,
                "--max-examples",
                "25",
                "--generation-deterministic",
                "-H",
                f"Authorization: Bearer {TOKEN}",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
        )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "generated" in result.stdout and " 0 passed" not in result.stdout, result.stdout
