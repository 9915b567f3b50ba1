"""The rows of ``blocs.csv``, ``allies.csv`` and ``grievances.csv``, each parsed and checked."""

from __future__ import annotations

import datetime as dt
import math
import re

from forecast.data.records import (
    SEVERITIES,
    Ally,
    Bloc,
    Grievance,
    Problem,
    parse_date,
    required,
)

CODE_PATTERN = re.compile(r"^[A-Z]{2}$")
SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


def parse_bloc(row: dict[str, str], problems: list[Problem]) -> Bloc | None:
    """A ``blocs.csv`` row as a Bloc; None (with the problems noted) if invalid."""
    key = row["key"].strip()
    if not SLUG_PATTERN.match(key):
        problems.append(Problem("key", f"{key!r} is not a key", "lower-case snake_case"))
    fields = {f: required(row, f, problems) for f in ("label", "description", "source")}
    return None if problems else Bloc(key=key, **fields)


def parse_ally(
    row: dict[str, str], problems: list[Problem], bloc_keys: tuple[str, ...]
) -> Ally | None:
    """An ``allies.csv`` row as an Ally whose blocs are among ``bloc_keys``."""
    code = row["code"].strip()
    if not CODE_PATTERN.match(code):
        problems.append(Problem("code", f"{code!r} is not a code", "ISO 3166-1 alpha-2, e.g. GB"))
    blocs = tuple(b.strip() for b in row["blocs"].split(";") if b.strip())
    for bloc in blocs:
        if bloc not in bloc_keys:
            problems.append(
                Problem(
                    "blocs", f"{bloc!r} is not a bloc", ", ".join(bloc_keys) + " (';'-separated)"
                )
            )
    spending = None
    text = row["spending_pct_gdp"].strip()
    if text:
        try:
            spending = float(text)
        except ValueError:
            spending = math.nan
        if not (math.isfinite(spending) and 0.0 < spending < 20.0):
            problems.append(
                Problem(
                    "spending_pct_gdp",
                    f"{text!r} is not a share of GDP",
                    "a number in (0, 20), or empty",
                )
            )
    member_since = parse_date(row["member_since"], "member_since", problems, optional=True)
    name = required(row, "name", problems)
    source = required(row, "source", problems)
    spending_source = row["spending_source"].strip()
    if spending is not None and not spending_source:
        problems.append(Problem("spending_source", "is required with a spending figure", "a URL"))
    if problems:
        return None
    return Ally(
        code=code,
        name=name,
        member_since=member_since,
        blocs=blocs,
        spending_pct_gdp=spending,
        spending_source=spending_source,
        source=source,
    )


def parse_grievance(
    row: dict[str, str],
    problems: list[Problem],
    codes: tuple[str, ...],
    bloc_keys: tuple[str, ...],
    opened: dt.date | None,
) -> Grievance | None:
    """A ``grievances.csv`` row held by an ally or a bloc, dated on or before ``opened``."""
    gid = row["id"].strip()
    if not SLUG_PATTERN.match(gid):
        problems.append(Problem("id", f"{gid!r} is not an id", "lower-case snake_case"))
    holder = row["ally"].strip()
    if holder not in codes and holder not in bloc_keys:
        problems.append(
            Problem(
                "ally",
                f"{holder!r} is neither an ally nor a bloc",
                ", ".join(sorted(codes + bloc_keys)),
            )
        )
    severity_text = row["severity"].strip()
    if severity_text not in {str(s) for s in SEVERITIES}:
        problems.append(
            Problem(
                "severity",
                f"{severity_text!r} is not a severity",
                "1 (minor), 2 (serious), 3 (blocking)",
            )
        )
    recorded = parse_date(row["recorded"], "recorded", problems)
    resolved = parse_date(row["resolved"], "resolved", problems, optional=True)
    for field, day in (("recorded", recorded), ("resolved", resolved)):
        if day is not None and opened is not None and day > opened:
            problems.append(
                Problem(field, f"{day} is after the data's opening date", f"on or before {opened}")
            )
    if recorded and resolved and resolved < recorded:
        problems.append(
            Problem(
                "resolved", f"{resolved} is before recorded {recorded}", f"on or after {recorded}"
            )
        )
    summary = required(row, "summary", problems)
    source = required(row, "source", problems)
    if problems:
        return None
    return Grievance(
        id=gid,
        ally=holder,
        summary=summary,
        severity=int(severity_text),
        recorded=recorded,
        resolved=resolved,
        source=source,
    )
