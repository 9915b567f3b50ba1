"""POST /evidence, GET /evidence, DELETE /evidence/{id}."""

from __future__ import annotations

from typing import Annotated

import anyio
import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.openapi import ResponseSpec
from litestar.params import Parameter

from service.common.paging import DEFAULT_LIMIT, MAX_LIMIT, next_link
from service.common.schemas import VALID
from service.evidence.schemas import EvidenceIn, EvidenceOut, EvidencePosted, EvidenceRetracted
from service.evidence.service import EvidenceService, not_valid
from service.http.auth import require_token
from service.http.responses import problems


async def every_problem(request: Request) -> None:
    """Before a posted item is decoded (which stops at its first wrong field): answer 422
    naming every wrong field of a JSON object at once. Anything that is not a JSON object
    is left to the decoder (400)."""
    try:
        raw = msgspec.json.decode(await request.body())
    except msgspec.DecodeError:
        return
    if isinstance(raw, dict):
        questions = request.app.state.questions
        service: EvidenceService = questions.in_path(request.path_params.get("slug")).evidence
        problems = await anyio.to_thread.run_sync(service.problems, raw)
        if problems:
            raise not_valid(problems)


class EvidenceController(Controller):
    path = "/evidence"
    tags = ("evidence",)

    @post(
        guards=[require_token],
        before_request=every_problem,
        operation_id="postEvidence",
        summary="Add a piece of evidence and queue a forecast run",
        description=(
            "Stored once: posting the same item again answers 200 with the same id "
            "(`stored`: `duplicate`, or `restored` if it had been retracted)."
        ),
        status_code=201,
        responses={
            200: ResponseSpec(data_container=EvidencePosted, description="Already stored"),
            **problems(400, 401, 413, 422, 429),
        },
        sync_to_thread=True,
    )
    def add(self, data: EvidenceIn, evidence: EvidenceService) -> Response[EvidencePosted]:
        posted = evidence.add(data)
        return Response(posted, status_code=201 if posted.stored == "created" else 200)

    @get(
        operation_id="listEvidence",
        summary="Every stored evidence item, newest first, retracted ones flagged",
        description="A page at a time: the next page is in the `Link` header.",
        responses=problems(400),
        sync_to_thread=True,
    )
    def list(
        self,
        request: Request,
        evidence: EvidenceService,
        ally: Annotated[str | None, Parameter(description=VALID["ally"])] = None,
        include_retracted: Annotated[
            bool, Parameter(description="List retracted items too (flagged)")
        ] = True,
        limit: Annotated[
            int, Parameter(ge=1, le=MAX_LIMIT, description=VALID["limit"])
        ] = DEFAULT_LIMIT,
        cursor: Annotated[str | None, Parameter(description=VALID["cursor"])] = None,
    ) -> Response[list[EvidenceOut]]:
        items, next_cursor = evidence.page(ally, include_retracted, limit, cursor)
        return Response(items, headers=next_link(request, next_cursor))

    @delete(
        "/{evidence_id:str}",
        guards=[require_token],
        operation_id="retractEvidence",
        summary="Retract an item (kept, flagged) and queue a run without it",
        status_code=200,
        responses=problems(401, 404, 429),
        sync_to_thread=True,
    )
    def retract(self, evidence_id: str, evidence: EvidenceService) -> EvidenceRetracted:
        return evidence.retract(evidence_id)
