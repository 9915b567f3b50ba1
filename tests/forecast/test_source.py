"""The code fingerprint follows every byte of the model's rooms and nothing else."""

from __future__ import annotations

import shutil

import pytest

from forecast import source


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A copy of the package's sources, fingerprinted afresh."""
    copy = tmp_path / "forecast"
    shutil.copytree(source.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(source, "PACKAGE_DIR", copy)
    source.source_digest.cache_clear()
    yield copy
    source.source_digest.cache_clear()


def digest_after(package, relative: str, edit) -> str:
    path = package / relative
    path.write_bytes(edit(path.read_bytes()))
    source.source_digest.cache_clear()
    return source.source_digest()


def test_a_byte_changed_in_the_model_changes_the_fingerprint(package):
    before = source.source_digest()
    assert (
        digest_after(package, "model/campaign_level.py", lambda b: b.replace(b"0.5", b"0.6", 1))
        != before
    )


def test_the_cli_or_a_check_leaves_the_model_fingerprint_alone(package):
    before = source.source_digest()
    assert digest_after(package, "cli.py", lambda b: b + b"\n# x\n") == before
    assert digest_after(package, "checks/stored.py", lambda b: b + b"\n# x\n") == before
    assert source.source_digest(("checks",)) != source.source_digest()


def test_a_renamed_file_changes_the_fingerprint(package):
    before = source.source_digest()
    (package / "posterior" / "timing.py").rename(package / "posterior" / "timing_forms.py")
    source.source_digest.cache_clear()
    assert source.source_digest() != before
