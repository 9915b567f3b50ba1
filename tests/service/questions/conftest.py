"""Several questions served at once: copies of the synthetic question under other slugs."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from service.app import create_app
from service.settings import Settings
from service.startup import prepare
from tests.service.conftest import make_settings

SLUGS = ("alpha", "beta")
# A token that may write to beta only.
BETA_TOKEN = "beta-only-token-0123456789-abcdefghij"
BETA_AUTH = {"Authorization": f"Bearer {BETA_TOKEN}"}


def copy_question(data_dir: Path, folder: Path, slug: str) -> Path:
    """A copy of the question in ``data_dir`` under ``slug``."""
    target = folder / f"{slug}-data"
    shutil.copytree(data_dir, target)
    toml = target / "question.toml"
    toml.write_text(f'slug = "{slug}"\n' + toml.read_text(encoding="utf-8"), encoding="utf-8")
    return target


@pytest.fixture(scope="session")
def question_dirs(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> list[Path]:
    folder = tmp_path_factory.mktemp("questions")
    return [copy_question(data_dir, folder, slug) for slug in SLUGS]


@pytest.fixture
def several(tmp_path: Path, data_dir: Path, question_dirs: list[Path]) -> Settings:
    """The default question and alpha and beta, migrated and seeded, nothing published."""
    settings = make_settings(
        tmp_path,
        data_dir,
        questions=",".join(str(d) for d in question_dirs),
        api_tokens={BETA_TOKEN: ("beta",)},
    )
    prepare(settings, fit_if_empty=False)
    return settings


@pytest.fixture
def several_client(several: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(several)) as client:
        yield client
