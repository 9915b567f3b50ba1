"""Service settings, read from ``FORECAST_*`` environment variables in this one place."""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forecast.seed import DEFAULT_SEED
from forecast.track_record_file import DEFAULT_TRACK_RECORD, TRACK_RECORD_ENV

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MAX_BODY_BYTES = 64 * 1024
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Exit code of a process whose configuration is unusable: restarting it would not help.
CONFIG_ERROR = 2
# A write token must be long enough that guessing it is hopeless (32 random characters,
# e.g. ``python -c "import secrets; print(secrets.token_urlsafe(32))"``).
MIN_TOKEN_CHARS = 32


class SettingsError(ValueError):
    """An environment variable holds a value the service cannot use."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything the API process and the worker need to know about their environment."""

    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'forecast.db'}"
    api_token: str | None = None
    data_dir: Path = PROJECT_ROOT / "data"
    # The questions served besides the default one (``forecast.data.questions``): empty,
    # the examples; a folder of question directories; or a comma-separated list of them.
    questions: str = ""
    # Write tokens limited to some questions: token -> the slugs it may write to ("*":
    # every question). FORECAST_API_TOKEN may write to every question.
    api_tokens: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Compiled models a worker keeps at once (one per question it fitted last); the least
    # recently used is evicted, and compiled again from the disk caches when needed.
    worker_models: int = 3
    # Whether an idle worker rebuilds a missing or stale track record (in a child process
    # at the lowest CPU priority: service/worker/record_builds.py).
    track_record_build: bool = True
    artifacts_dir: Path = PROJECT_ROOT / "var" / "runs"
    # The stored track record (``python -m forecast track-record`` writes it).
    track_record: Path = DEFAULT_TRACK_RECORD
    seed: int = DEFAULT_SEED
    # How often the idle worker looks for a queued run, in seconds (a plain read).
    poll_seconds: float = 0.05
    # A worker's hold on the run it fits, renewed every quarter of it; a run whose lease
    # has lapsed (its worker died or stalled) is taken back by another worker.
    run_lease_seconds: float = 60.0
    # Merged over the model's defaults; JSON objects in the environment.
    sampler_config: Mapping[str, Any] = field(default_factory=dict)
    model_config: Mapping[str, Any] = field(default_factory=dict)
    # Overrides of forecast.model.gate.GateConfig (thresholds a fit must meet to be published).
    gate_config: Mapping[str, Any] = field(default_factory=dict)
    max_body_bytes: int = MAX_BODY_BYTES
    log_level: str = "INFO"
    # CPU priority (nice, 0-19) of the worker: readers are served first when a rerun and
    # a burst of reads compete for the cores; an idle machine samples at full speed.
    worker_nice: int = 10
    # Manual runs (POST /runs) that may wait in the queue at once; more get 429.
    max_queued_runs: int = 10
    # Failed runs whose files (draws, diagnostics) are kept; published runs keep theirs.
    keep_failed_runs: int = 5
    # Published runs per cut-off that keep their draws (service.runs.retention): the one
    # served there and the one it replaced, which a what-if in flight may still read.
    keep_runs_per_cut_off: int = 2
    # What-if (?by=, ?assume=) computations: processes computing them, and how many more
    # may wait for one; beyond that a what-if gets 503 with Retry-After.
    what_if_workers: int = 1
    what_if_queue: int = 4
    # Peers (IPs or CIDR networks) whose X-Forwarded-For and X-Forwarded-Proto are
    # believed; empty: forwarded headers are ignored, a client is the address it connects
    # from (service/http/server.py).
    trusted_proxies: tuple[str, ...] = ()
    # A request's headers must arrive within this many seconds of its connection (or of
    # the previous response), its body within this many of its headers; else the
    # connection is closed, so slow clients cannot hold the server's connections.
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.api_token is not None:
            _long_enough("FORECAST_API_TOKEN", self.api_token)
        for token in self.api_tokens:
            _long_enough("FORECAST_API_TOKENS: a token", token)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings; unset variables keep their defaults.

        Raises
        ------
        SettingsError
            Naming the variable and the values it accepts.
        """
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            host=env.get("FORECAST_HOST", defaults.host),
            port=_integer(env, "FORECAST_PORT", defaults.port, 1, 65535),
            database_url=normalise_url(env.get("FORECAST_DATABASE_URL", defaults.database_url)),
            # Surrounding whitespace (a newline from a secrets file) is never part of it.
            api_token=env.get("FORECAST_API_TOKEN", "").strip() or None,
            data_dir=Path(env.get("FORECAST_DATA_DIR", defaults.data_dir)),
            questions=env.get("FORECAST_QUESTIONS", defaults.questions).strip(),
            api_tokens=_tokens(env, "FORECAST_API_TOKENS"),
            worker_models=_integer(env, "FORECAST_WORKER_MODELS", defaults.worker_models, 1, 64),
            track_record_build=_choice(env, "FORECAST_TRACK_RECORD_BUILD", "ON", ("ON", "OFF"))
            == "ON",
            artifacts_dir=Path(env.get("FORECAST_ARTIFACTS_DIR", defaults.artifacts_dir)),
            track_record=Path(env.get(TRACK_RECORD_ENV) or defaults.track_record),
            seed=_integer(env, "FORECAST_SEED", defaults.seed, 0, 2**32 - 1),
            poll_seconds=_number(env, "FORECAST_POLL_SECONDS", defaults.poll_seconds),
            run_lease_seconds=_number(
                env, "FORECAST_RUN_LEASE_SECONDS", defaults.run_lease_seconds
            ),
            sampler_config=_json_object(env, "FORECAST_SAMPLER_CONFIG"),
            model_config=_json_object(env, "FORECAST_MODEL_CONFIG"),
            gate_config=_json_object(env, "FORECAST_GATE_CONFIG"),
            log_level=_choice(env, "FORECAST_LOG_LEVEL", defaults.log_level, LOG_LEVELS),
            worker_nice=_integer(env, "FORECAST_WORKER_NICE", defaults.worker_nice, 0, 19),
            max_queued_runs=_integer(
                env, "FORECAST_MAX_QUEUED_RUNS", defaults.max_queued_runs, 1, 10_000
            ),
            keep_failed_runs=_integer(
                env, "FORECAST_KEEP_FAILED_RUNS", defaults.keep_failed_runs, 0, 10_000
            ),
            keep_runs_per_cut_off=_integer(
                env, "FORECAST_KEEP_RUNS_PER_CUT_OFF", defaults.keep_runs_per_cut_off, 1, 10_000
            ),
            what_if_workers=_integer(
                env, "FORECAST_WHATIF_WORKERS", defaults.what_if_workers, 1, 16
            ),
            what_if_queue=_integer(env, "FORECAST_WHATIF_QUEUE", defaults.what_if_queue, 0, 1000),
            trusted_proxies=_networks(env, "FORECAST_TRUSTED_PROXIES"),
        )


def settings_for_process(label: str = "") -> Settings | None:
    """Settings from the environment with logging configured, or None (reason on stderr).

    The entry points (``python -m service``, ``python -m service.worker``) start with this;
    on None they exit with ``CONFIG_ERROR``.
    """
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    tag = f" [{label}]" if label else ""
    # No log line of the service shows a thread or a process: a record need not look them
    # up (the multiprocessing lookup is the dearest part of making one, on every request's
    # access line).
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging.basicConfig(
        level=settings.log_level, format=f"%(asctime)s %(levelname)s{tag} %(name)s: %(message)s"
    )
    return settings


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs (psycopg2 is not installed)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _integer(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = env.get(name)
    if text is None or text.strip() == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r} is not an integer (valid: {low}..{high})") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}={value} is out of range (valid: {low}..{high})")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env.get(name, default).strip().upper() or default
    if value not in choices:
        raise SettingsError(f"{name}={value!r} is not valid (valid: {', '.join(choices)})")
    return value


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name)
    if text is None or text.strip() == "":
        return default
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r} is not a number (valid: > 0)") from None
    if not value > 0:
        raise SettingsError(f"{name}={value} is out of range (valid: > 0)")
    return value


def _networks(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated IP addresses or CIDR networks, each normalised (``10.0.0.1/32``)."""
    found = []
    for item in env.get(name, "").split(","):
        if not item.strip():
            continue
        try:
            found.append(str(ipaddress.ip_network(item.strip(), strict=False)))
        except ValueError:
            raise SettingsError(
                f"{name}: {item.strip()!r} is not an IP address or network (valid: "
                "comma-separated IPs or CIDRs, e.g. 10.0.0.1,192.168.0.0/16)"
            ) from None
    return tuple(found)


def _long_enough(name: str, token: str) -> None:
    if len(token) < MIN_TOKEN_CHARS:
        raise SettingsError(
            f"{name} has {len(token)} characters; it needs at least {MIN_TOKEN_CHARS} (e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )


def _tokens(env: Mapping[str, str], name: str) -> dict[str, tuple[str, ...]]:
    """A JSON object of write tokens, each to a list of question slugs or ``"*"``. The
    slugs are checked against the questions served when the service starts."""
    valid = 'a JSON object {"<token>": ["<slug>", ...] or "*"}'
    tokens = {}
    for token, slugs in _json_object(env, name).items():
        if slugs == "*":
            slugs = ["*"]
        if not isinstance(slugs, list) or not slugs or not all(isinstance(s, str) for s in slugs):
            raise SettingsError(
                f"{name}: a token's questions are not a list of slugs; valid: {valid}"
            )
        tokens[token.strip()] = tuple(slugs)
    return tokens


def _json_object(env: Mapping[str, str], name: str) -> dict[str, Any]:
    text = env.get(name)
    if text is None or text.strip() == "":
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{name} is not JSON ({exc}); valid: a JSON object") from None
    if not isinstance(value, dict):
        raise SettingsError(f"{name} is not a JSON object; valid: a JSON object")
    return value
