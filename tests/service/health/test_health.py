"""GET /health."""

from __future__ import annotations

from tests.service.conftest import AUTH


def test_health_is_ok_on_a_fresh_database(client):
    health = client.get("/health").json()
    assert health["status"] == "ok"
    assert health["database"] == "sqlite"
    assert health["writes_enabled"] is True
    assert (health["forecast"], health["queued"], health["running"]) == (None, 0, 0)


def test_health_names_the_live_forecast_and_counts_queued_runs(published_client):
    published_client.post("/runs", json={"as_of": "2024-03-01"}, headers=AUTH)
    health = published_client.get("/health").json()
    forecast = published_client.get("/forecast").json()
    assert health["forecast"]["run_id"] == forecast["run_id"]
    assert health["forecast"]["as_of"] == forecast["as_of"]
    assert health["queued"] == 1


def test_health_is_a_503_problem_when_the_database_is_gone(client, settings, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from service.forecasts.service import ForecastService

    def unreachable(*_args):
        raise OperationalError("SELECT 1", {}, Exception("unable to open database file"))

    monkeypatch.setattr(ForecastService, "latest", unreachable)
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["detail"] == "the database does not answer"
