"""POST /evidence, GET /evidence, DELETE /evidence/{id}."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, delete, get, post
from litestar.openapi import ResponseSpec
from litestar.params import Parameter

from service.auth import require_token
from service.evidence import EvidenceService
from service.routes.responses import problems
from service.schemas import VALID, EvidenceIn, EvidenceOut, EvidencePosted, EvidenceRetracted


class EvidenceController(Controller):
    path = "/evidence"
    tags = ("evidence",)

    @post(
        guards=[require_token],
        operation_id="postEvidence",
        summary="Add a piece of evidence and queue a forecast run",
        description=(
            "Stored once: posting the same item again answers 200 with the same id "
            "(`stored`: `duplicate`, or `restored` if it had been retracted)."
        ),
        status_code=201,
        responses={
            200: ResponseSpec(data_container=EvidencePosted, description="Already stored"),
            **problems(400, 401, 413, 422),
        },
        sync_to_thread=True,
    )
    def add(self, data: EvidenceIn, evidence: EvidenceService) -> Response[EvidencePosted]:
        posted = evidence.add(data)
        return Response(posted, status_code=201 if posted.stored == "created" else 200)

    @get(
        operation_id="listEvidence",
        summary="Every stored evidence item, newest first, retracted ones flagged",
        responses=problems(400),
        sync_to_thread=True,
    )
    def list(
        self,
        evidence: EvidenceService,
        ally: Annotated[str | None, Parameter(description=VALID["ally"])] = None,
        include_retracted: Annotated[
            bool, Parameter(description="List retracted items too (flagged)")
        ] = True,
    ) -> list[EvidenceOut]:
        return evidence.list(ally=ally, include_retracted=include_retracted)

    @delete(
        "/{evidence_id:str}",
        guards=[require_token],
        operation_id="retractEvidence",
        summary="Retract an item (kept, flagged) and queue a run without it",
        status_code=200,
        responses=problems(401, 404),
        sync_to_thread=True,
    )
    def retract(self, evidence_id: str, evidence: EvidenceService) -> EvidenceRetracted:
        return evidence.retract(evidence_id)
