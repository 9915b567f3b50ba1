"""OpenAPI descriptions of the problem-detail answers, shared by the controllers."""

from __future__ import annotations

from litestar.openapi import ResponseSpec

from service.common.schemas import Problem

DESCRIPTIONS = {
    400: "A query parameter or body that cannot be read; `errors` names it",
    401: "Missing or wrong bearer token",
    403: "A token limited to other questions (FORECAST_API_TOKENS); `errors` names them",
    404: "No such resource; `errors` lists the valid values",
    409: "Not possible in the resource's state; `errors` says why and what is",
    413: "Body over the size limit",
    422: "Fields that are not valid; `errors` names each with its valid values",
    429: "Too many requests (wrong tokens from this client, or a full queue); see `Retry-After`",
    503: "Not available yet (no forecast published), busy (what-ifs; see `Retry-After`) or "
    "the database does not answer",
}


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """Problem-detail responses (``application/problem+json``) for these statuses; a write
    that may be refused as unauthorized (401) may also be forbidden (403: a token for
    other questions)."""
    if 401 in statuses and 403 not in statuses:
        statuses = (*statuses, 403)
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=DESCRIPTIONS[status],
            media_type="application/problem+json",
        )
        for status in statuses
    }
