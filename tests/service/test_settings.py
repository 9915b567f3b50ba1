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
            "FORECAST_API_TOKEN": "  " + "t" * 32 + "\n",
            "FORECAST_DATA_DIR": "/srv/data",
            "FORECAST_SAMPLER_CONFIG": '{"draws": 200}',
            "FORECAST_RUN_LEASE_SECONDS": "2.5",
        }
    )
    assert settings.port == 9000
    assert settings.database_url == "postgresql+psycopg://u:p@db/forecast"
    assert settings.api_token == "t" * 32  # surrounding whitespace is not part of it
    assert settings.data_dir == Path("/srv/data")
    assert settings.sampler_config == {"draws": 200}
    assert settings.run_lease_seconds == 2.5


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("FORECAST_PORT", "http", "1..65535"),
        ("FORECAST_PORT", "70000", "1..65535"),
        ("FORECAST_SEED", "-1", "0..4294967295"),
        ("FORECAST_POLL_SECONDS", "0", "> 0"),
        ("FORECAST_RUN_LEASE_SECONDS", "-1", "> 0"),
        ("FORECAST_SAMPLER_CONFIG", "[1]", "JSON object"),
        ("FORECAST_GATE_CONFIG", "{", "JSON object"),
        ("FORECAST_LOG_LEVEL", "LOUD", "DEBUG"),
        ("FORECAST_WORKER_NICE", "20", "0..19"),
        ("FORECAST_API_TOKEN", "x", "at least 32"),
        ("FORECAST_API_TOKEN", " " + "x" * 31 + " ", "at least 32"),
        ("FORECAST_MAX_QUEUED_RUNS", "0", "1..10000"),
        ("FORECAST_WHATIF_WORKERS", "0", "1..16"),
        ("FORECAST_TRUSTED_PROXIES", "localhost", "IPs or CIDRs"),
        ("FORECAST_TRUSTED_PROXIES", "10.0.0.1,*", "IPs or CIDRs"),
        ("FORECAST_TRUSTED_PROXIES", "10.0.0.0/33", "IPs or CIDRs"),
    ],
)
def test_a_bad_value_names_the_variable_and_what_it_accepts(name, value, named):
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({name: value})
    assert name in str(raised.value) and named in str(raised.value)


def test_no_proxy_is_trusted_unless_configured_and_configured_ones_are_networks():
    assert Settings.from_env({}).trusted_proxies == ()
    configured = Settings.from_env({"FORECAST_TRUSTED_PROXIES": " 10.0.0.7, 192.168.0.0/16,::1"})
    assert configured.trusted_proxies == ("10.0.0.7/32", "192.168.0.0/16", "::1/128")


def test_the_service_refuses_to_start_with_a_short_token(tmp_path):
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "FORECAST_API_TOKEN": "x",
        "FORECAST_DATABASE_URL": f"sqlite:///{tmp_path / 'never.db'}",
    }
    result = subprocess.run(
        [sys.executable, "-m", "service", "--no-worker"],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    (line,) = result.stderr.strip().splitlines()
    assert "FORECAST_API_TOKEN" in line and "at least 32" in line
    assert not (tmp_path / "never.db").exists()


def test_the_api_is_worded_from_the_question_directory(tmp_path):
    from service.app import api_wording

    root = Path(__file__).resolve().parents[2]
    title, question = api_wording(root / "examples" / "nato-2014")
    assert title == "Jens Stoltenberg confirmation forecast"
    assert "Stoltenberg" in question
    assert api_wording(root / "data")[0] == "Mark Rutte confirmation forecast"
    assert api_wording(tmp_path)[0] == "Consensus appointment forecast"
