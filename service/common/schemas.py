"""What every resource's schemas share: the valid values of each field, problem details, kinds."""

from __future__ import annotations

import logging
from typing import Literal

import msgspec
from msgspec import Struct

from forecast.data.records import (
    EVIDENCE_FIELDS,
    EVIDENCE_KINDS,
    MAX_SOURCE_CHARS,
    MAX_SUMMARY_CHARS,
)

logger = logging.getLogger(__name__)

# What each request field or query parameter accepts: shown in the OpenAPI schema and as
# the ``valid`` of a problem that names the field.
VALID: dict[str, str] = {
    "body": "a JSON object with the fields " + ", ".join(EVIDENCE_FIELDS),
    "ally": "an ally's ISO 3166-1 alpha-2 code (GET /allies)",
    "kind": ", ".join(EVIDENCE_KINDS),
    "date": "the day the fact became public, as YYYY-MM-DD, not after today in UTC",
    "source": (
        "an absolute http(s) URL (https://host/...) or a citation without a scheme (a seed "
        f"file's name, 'Reuters, 22 Feb 2024'), at most {MAX_SOURCE_CHARS} characters"
    ),
    "summary": f"what happened, at most {MAX_SUMMARY_CHARS} characters",
    "reliability": "a number in (0, 1]: 1 for a public, named statement (the default)",
    "severity": "1 (minor), 2 (serious), 3 (blocking); only for kind 'grievance'",
    "grievance": (
        "the id of a recorded grievance (GET /allies/{code}) or of a posted grievance "
        "(GET /evidence); only for kind 'grievance_resolved'"
    ),
    "meeting_date": (
        "the first day of the meeting announced on the item's date, as YYYY-MM-DD, after "
        "that date; only for kind 'meeting' (it joins the calendar's fixed dates)"
    ),
    "as_of": "a cut-off date as YYYY-MM-DD",
    "seed": f"an integer from 0 to {2**32 - 1}",
    "by": "extra deadlines as YYYY-MM-DD, comma-separated, e.g. 2024-03-15,2024-04-30",
    "assume": "what-if outcomes CODE:OUTCOME, comma-separated, OUTCOME endorsed or opposed",
    "limit": "an integer from 1 to 500",
    "cursor": "the cursor of the next page, from the Link header of the previous one",
    "status": "queued, running, succeeded, failed",
    "include_retracted": "true or false",
}

EvidenceKind = Literal[EVIDENCE_KINDS]  # type: ignore[valid-type]
RunStatus = Literal["queued", "running", "succeeded", "failed"]


class ProblemError(Struct, frozen=True):
    """One field of the request that is wrong, and what it accepts."""

    field: str
    message: str
    valid: str = ""


class Problem(Struct, kw_only=True):
    """An error answer (RFC 9457 problem details) with the fields at fault."""

    type: str
    title: str
    status: int
    detail: str
    instance: str = ""
    errors: list[ProblemError] = msgspec.field(default_factory=list)
