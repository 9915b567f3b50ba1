"""A small synthetic dataset written as the shipped files are, for tests that need their own."""

from __future__ import annotations

import csv
from pathlib import Path

from forecast.data.reference import CAMPAIGN_COLUMNS, HOLDOUT_COUNT_COLUMNS

QUESTION = """\
question = "Will the allies confirm the candidate, and by when?"
candidate = "Test Candidate"
opened = 2024-02-22
campaign_start = 2023-10-26
campaign_start_source = "synthetic"
rule = "unanimity"
rule_source = "synthetic"
sponsor = "AA"
organisation = "nato"
emerged = 2024-02-21
emerged_source = "synthetic"
largest_members = ["AA", "BB"]
largest_members_source = "synthetic"

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

[[calendar]]
key = "ministerial"
label = "The April ministerial"
date = 2024-04-03
announced = 2024-01-15
source = "synthetic"

[[calendar]]
key = "summit"
label = "The summit"
date = 2024-07-09
announced = 2023-07-11
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

# id, organisation, emerged, all_largest_backed, heavyweight_objection, rival, holdouts,
# outcome, outcome_date: a small made-up reference class with both outcomes; fixed
# meetings for some (MEETINGS).
CAMPAIGNS = [
    ("alpha_1994", "nato", "1994-09-01", "yes", "no", "no", "3", "confirmed", "1994-09-29"),
    ("beta_1995", "nato", "1995-10-25", "no", "yes", "no", "4", "dropped", "1995-11-20"),
    ("gamma_1995", "nato", "1995-11-28", "yes", "no", "no", "2", "confirmed", "1995-12-05"),
    ("delta_1999", "nato", "1999-07-20", "yes", "no", "no", "2", "confirmed", "1999-08-04"),
    ("eps_2003", "nato", "2003-08-01", "yes", "no", "yes", "3", "confirmed", "2003-09-22"),
    ("zeta_2009", "nato", "2009-03-01", "yes", "no", "no", "1", "confirmed", "2009-04-04"),
    ("eta_1994", "eu", "1994-06-01", "no", "yes", "no", "1", "dropped", "1994-06-25"),
    ("theta_2004", "eu", "2004-06-01", "no", "yes", "yes", "3", "dropped", "2004-06-18"),
    ("iota_2004", "eu", "2004-06-20", "yes", "no", "no", "2", "confirmed", "2004-06-29"),
    ("kappa_2020", "wto", "2020-10-28", "no", "yes", "no", "1", "confirmed", "2021-03-01"),
]


# Counts after the emergence day: holdouts giving way one by one.
LATER_COUNTS = [
    {
        "campaign": c,
        "date": d,
        "holdouts": h,
        "members": "16",
        "objecting": "0",
        "rivals": "0",
        "source": "synthetic",
        "note": "synthetic",
    }
    for c, d, h in (
        ("alpha_1994", "1994-09-15", "2"),
        ("alpha_1994", "1994-09-25", "1"),
        ("eps_2003", "2003-09-01", "1"),
    )
]

MEETINGS = {
    "gamma_1995": "defence_ministers=1995-11-29;foreign_ministers=1995-12-05",
    "zeta_2009": "summit=2009-04-03",
    "eta_1994": "council=1994-06-24",
    "iota_2004": "council=2004-06-29",
    "kappa_2020": "general_council=2020-11-09",
}


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
    _write(
        folder / "campaigns.csv",
        list(CAMPAIGN_COLUMNS),
        [
            dict(
                zip(
                    (
                        "id",
                        "organisation",
                        "emerged",
                        "all_largest_backed",
                        "heavyweight_objection",
                        "rival_candidacy",
                        "holdouts",
                    ),
                    row[:7],
                    strict=True,
                ),
                post="Secretary General",
                rule="unanimity",
                blocking_objection=row[4],
                fallback="no",
                front_runner=f"Candidate {row[0]}",
                largest_members="US;GB",
                holdout_reasons="synthetic",
                fixed_meetings=MEETINGS.get(row[0], ""),
                outcome=row[7],
                outcome_date=row[8],
                source="synthetic",
                notes="",
            )
            for row in CAMPAIGNS
        ],
    )
    _write(
        folder / "holdout_counts.csv",
        list(HOLDOUT_COUNT_COLUMNS),
        [
            {
                "campaign": row[0],
                "date": row[2],
                "holdouts": row[6],
                "members": "16",
                "objecting": "1" if row[4] == "yes" else "0",
                "rivals": "1" if row[5] == "yes" else "0",
                "source": "synthetic",
                "note": "synthetic",
            }
            for row in CAMPAIGNS
        ]
        + LATER_COUNTS,
    )
    return folder


def _write(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
