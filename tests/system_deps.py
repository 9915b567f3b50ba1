"""Installs the Debian packages the end-to-end tests use, when they are missing.

``make test`` runs this before pytest so that a fresh machine runs the browser, the
PostgreSQL and the load tests instead of skipping them: ``chromium`` (the page test),
``postgresql`` (the service on PostgreSQL) and ``wrk`` (``make bench``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

PACKAGES = {
    "chromium": lambda: shutil.which("chromium") is not None,
    "postgresql": lambda: any(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")),
    "wrk": lambda: shutil.which("wrk") is not None,
}


def installable() -> bool:
    """Whether ``make test`` installs missing packages here (root with apt-get): then a test
    that needs one fails instead of skipping when it is missing or does not start."""
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def main() -> int:
    missing = [name for name, present in PACKAGES.items() if not present()]
    if not missing:
        return 0
    if not installable():
        print(f"not installing {', '.join(missing)}: needs root and apt-get", file=sys.stderr)
        return 0
    print(f"installing {', '.join(missing)} with apt-get", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
