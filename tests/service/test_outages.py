"""Fault injection: a database that cannot be written is an outage (503), never a 500."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from service.settings import Settings
from tests.service.conftest import AUTH, endorsement


@contextmanager
def unwritable(settings: Settings) -> Iterator[None]:
    """The SQLite database file and its WAL made immutable (``chattr +i``), restored after.

    As root, permissions do not stop writes; the immutable attribute does. The shared
    memory file stays writable: it is mapped, and an immutable mapping kills the process.
    """
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not available to make the database files immutable")
    database = Path(settings.database_url.removeprefix("sqlite:///"))
    files = [str(p) for p in (database, Path(f"{database}-wal")) if p.exists()]
    made = subprocess.run(["chattr", "+i", *files], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"chattr +i failed here: {made.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *files], check=True)


def assert_writes_unavailable(response) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    problem = response.json()
    assert problem["type"] == "urn:forecast:problem:writes-unavailable"
    assert "writes are unavailable" in problem["detail"]


def test_writes_to_an_unwritable_database_get_503_and_health_says_so_until_they_work(client):
    item = client.get("/evidence").json()[0]["id"]
    client.post("/evidence", json=endorsement("DD", "2024-03-01"), headers=AUTH)  # the WAL exists
    with unwritable(client.app.state.settings):
        assert_writes_unavailable(
            client.post("/evidence", json=endorsement("EE", "2024-03-02"), headers=AUTH)
        )
        assert_writes_unavailable(client.delete(f"/evidence/{item}", headers=AUTH))
        assert_writes_unavailable(client.post("/runs", json={"as_of": "2024-03-01"}, headers=AUTH))
        health = client.get("/health").json()
        assert health["writes_enabled"] is False
        assert "cannot be written" in health["writes_reason"]
        assert client.get("/evidence").status_code == 200  # reads keep working
    health = client.get("/health").json()
    assert (health["writes_enabled"], health["writes_reason"]) == (True, None)
    posted = client.post("/evidence", json=endorsement("EE", "2024-03-02"), headers=AUTH)
    assert posted.status_code == 201, posted.text
