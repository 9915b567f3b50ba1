"""A small synthetic dataset written as the shipped files are, for tests that need their own."""

from __future__ import annotations

import csv
from pathlib import Path

QUESTION = """\
question = "Will the allies confirm the candidate, and by when?"
candidate = "Test Candidate"
opened = 2024-02-22
campaign_start = 2023-10-26
campaign_start_source = "synthetic"
rule = "unanimity"
rule_source = "synthetic"

[[deadlines]]
key = "april_ministerial"
label = "Before the April ministerial"
last_day = 2024-04-02
source = "synthetic"

[[deadlines]]
key = "june"
label = "Before June"
last_day = 2024-05-31
source = "synthetic"

[decision_lag]
appointments = [
  { name = "Past One", consensus = 2009-04-04, decided = 2009-04-04, source = "synthetic" },
]
"""

BLOCS = [
    {"key": "eu", "label": "EU", "description": "EU members", "source": "synthetic"},
    {"key": "east", "label": "East", "description": "Eastern flank", "source": "synthetic"},
]

# code, blocs, spending, member_since
ALLIES = [
    ("AA", "eu", "1.5", "1949-08-24"),
    ("BB", "eu", "2.1", "1949-08-24"),
    ("CC", "", "3.5", "1949-08-24"),
    ("DD", "eu;east", "2.4", "2004-03-29"),
    ("EE", "eu;east", "2.7", "2004-03-29"),
    ("FF", "east", "", "1999-03-12"),
    ("GG", "eu", "1.3", ""),
]

GRIEVANCES = [
    {
        "id": "east_representation",
        "ally": "east",
        "summary": "wants one of its own",
        "severity": "1",
        "recorded": "2024-02-01",
        "resolved": "",
        "source": "synthetic",
    },
    {
        "id": "ee_veto",
        "ally": "EE",
        "summary": "a veto",
        "severity": "2",
        "recorded": "2022-12-08",
        "resolved": "",
        "source": "synthetic",
    },
]

EVIDENCE = [
    ("AA", "endorsement", "2024-02-21", "1", ""),
    ("BB", "endorsement", "2024-02-22", "1", ""),
    ("CC", "endorsement", "2024-02-22", "0.6", ""),
    ("EE", "candidacy", "2024-02-22", "0.8", ""),
    ("FF", "objection", "2024-02-20", "1", ""),
]


def write_dataset(folder: Path) -> Path:
    """Write the synthetic dataset into ``folder`` and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "question.toml").write_text(QUESTION)
    _write(folder / "blocs.csv", ["key", "label", "description", "source"], BLOCS)
    _write(
        folder / "allies.csv",
        ["code", "name", "member_since", "blocs", "spending_pct_gdp", "spending_source", "source"],
        [
            {
                "code": code,
                "name": f"Ally {code}",
                "member_since": since,
                "blocs": blocs,
                "spending_pct_gdp": spending,
                "spending_source": "synthetic" if spending else "",
                "source": "synthetic",
            }
            for code, blocs, spending, since in ALLIES
        ],
    )
    _write(
        folder / "grievances.csv",
        ["id", "ally", "summary", "severity", "recorded", "resolved", "source"],
        GRIEVANCES,
    )
    _write(
        folder / "evidence.csv",
        ["ally", "kind", "date", "source", "summary", "reliability", "severity", "grievance"],
        [
            {
                "ally": ally,
                "kind": kind,
                "date": date,
                "source": "synthetic",
                "summary": f"{ally} {kind}",
                "reliability": reliability,
                "severity": severity,
                "grievance": "",
            }
            for ally, kind, date, reliability, severity in EVIDENCE
        ],
    )
    return folder


def _write(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
