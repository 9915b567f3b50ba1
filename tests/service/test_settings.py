"""Settings from FORECAST_* environment variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.settings import PROJECT_ROOT, Settings, SettingsError


def test_defaults_follow_the_design():
    settings = Settings.from_env({})
    assert (settings.host, settings.port, settings.api_token) == ("127.0.0.1", 8000, None)
    assert settings.database_url == f"sqlite:///{PROJECT_ROOT / 'var' / 'forecast.db'}"
    assert settings.data_dir == PROJECT_ROOT / "data"
    assert settings.artifacts_dir == PROJECT_ROOT / "var" / "runs"
    assert settings.max_body_bytes == 64 * 1024
    assert settings.worker_nice == 10


def test_environment_overrides_and_postgres_urls_use_psycopg():
    settings = Settings.from_env(
        {
            "FORECAST_PORT": "9000",
            "FORECAST_DATABASE_URL": "postgresql://u:p@db/forecast",
            "FORECAST_API_TOKEN": "t",
            "FORECAST_DATA_DIR": "/srv/data",
            "FORECAST_SAMPLER_CONFIG": '{"draws": 200}',
        }
    )
    assert settings.port == 9000
    assert settings.database_url == "postgresql+psycopg://u:p@db/forecast"
    assert settings.api_token == "t"
    assert settings.data_dir == Path("/srv/data")
    assert settings.sampler_config == {"draws": 200}


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("FORECAST_PORT", "http", "1..65535"),
        ("FORECAST_PORT", "70000", "1..65535"),
        ("FORECAST_SEED", "-1", "0..4294967295"),
        ("FORECAST_POLL_SECONDS", "0", "> 0"),
        ("FORECAST_SAMPLER_CONFIG", "[1]", "JSON object"),
        ("FORECAST_GATE_CONFIG", "{", "JSON object"),
        ("FORECAST_LOG_LEVEL", "LOUD", "DEBUG"),
        ("FORECAST_WORKER_NICE", "20", "0..19"),
    ],
)
def test_a_bad_value_names_the_variable_and_what_it_accepts(name, value, named):
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({name: value})
    assert name in str(raised.value) and named in str(raised.value)
