"""The default seed: the one the service's README documents, used by every fit that names
none."""

from __future__ import annotations

import re
from pathlib import Path

from forecast.checks.stored import CHECKS
from forecast.cli import parser
from forecast.seed import DEFAULT_SEED
from service.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def documented_seed() -> int:
    readme = (PROJECT_ROOT / "service" / "README.md").read_text()
    return int(re.search(r"^\| `FORECAST_SEED` \| `(\d+)` \|", readme, re.MULTILINE).group(1))


def test_the_service_cli_and_stored_checks_fit_with_the_documented_seed_by_default():
    seeds = {
        "service": Settings.from_env({}).seed,
        "fit": parser().parse_args(["fit"]).seed,
        "backtest": parser().parse_args(["backtest"]).seed,
        **{
            f"{name} {kind}": settings["seed"]
            for name, check in CHECKS.items()
            for kind, settings in (("full", check.full), ("quick", check.quick))
            if "seed" in settings
        },
    }
    assert seeds == dict.fromkeys(seeds, documented_seed())
    assert documented_seed() == DEFAULT_SEED
