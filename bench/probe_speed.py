"""The hot path's freshness probe as the evidence log grows: the gated probe (what every
GET /forecast runs) against the full SELECT it skips while nothing has changed."""

from __future__ import annotations

import sqlite3
import tempfile
import timeit
from pathlib import Path

from service.common.db import connect, migrate
from service.forecasts.probe import LiveProbe

SIZES = (10, 5_000)
CALLS = 2_000
INSERT = (
    "INSERT INTO evidence (id, ally, kind, date, source, summary, reliability, origin, "
    "created_at) VALUES (?, 'HU', 'statement', '2024-03-01', 'bench', 'bench', 1.0, 'user', "
    "'2024-03-01 10:00:00')"
)


def _microseconds(call) -> float:
    """Best of five of the mean over CALLS calls (the least disturbed by other work)."""
    return min(timeit.repeat(call, number=CALLS, repeat=5)) / CALLS * 1e6


def _measure(size: int) -> tuple[float, float]:
    """Microseconds a call of the gated probe and of the full SELECT, ``size`` rows stored."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "probe.db"
        database = connect(f"sqlite:///{path}")
        migrate(database)
        with sqlite3.connect(path) as writer:
            writer.executemany(INSERT, [(f"e{i}",) for i in range(size)])
        probe = LiveProbe(database)
        probe()
        cursor = probe.connection.cursor()
        try:
            return _microseconds(probe), _microseconds(lambda: probe._read(cursor))
        finally:
            cursor.close()
            probe.close()
            database.dispose()


def main() -> dict[str, float]:
    result: dict[str, float] = {}
    print(f"Freshness probe of GET /forecast, per request (best of 5 x {CALLS} calls)")
    for size in SIZES:
        gated, full = _measure(size)
        result[f"gated_us_{size}"], result[f"full_us_{size}"] = gated, full
        print(
            f"  {size:6d} evidence rows: gated {gated:7.1f} us, full SELECT {full:7.1f} us "
            f"(full / gated: {full / gated:.1f}x)"
        )
    return result


if __name__ == "__main__":
    main()
