"""POST /runs, GET /runs, GET /runs/{id}, DELETE /runs/{id}."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, Response, delete, get, post
from litestar.openapi import ResponseSpec
from litestar.params import Parameter

from service.common.paging import DEFAULT_LIMIT, MAX_LIMIT, next_link
from service.common.schemas import VALID, RunStatus
from service.http.auth import require_token
from service.http.responses import problems
from service.runs.schemas import RunIn, RunOut
from service.runs.service import RunService


class RunController(Controller):
    path = "/runs"
    tags = ("runs",)

    @post(
        guards=[require_token],
        operation_id="requestRun",
        summary="Queue a fit at a cut-off date",
        description=(
            "A run with the same cut-off and seed that is still queued is returned (200) "
            "instead of queuing another. Manual runs wait behind live reruns; at most "
            "`FORECAST_MAX_QUEUED_RUNS` may wait at once (429 with `Retry-After` beyond)."
        ),
        status_code=202,
        responses={
            200: ResponseSpec(data_container=RunOut, description="Already queued"),
            **problems(400, 401, 413, 422, 429),
        },
        sync_to_thread=True,
    )
    def request(self, data: RunIn, runs: RunService) -> Response[RunOut]:
        run, created = runs.request(data)
        return Response(run, status_code=202 if created else 200)

    @get(
        operation_id="listRuns",
        summary="Runs, newest first: queued, running, succeeded or failed",
        description="A page at a time: the next page is in the `Link` header.",
        responses=problems(400),
        sync_to_thread=True,
    )
    def list(
        self,
        request: Request,
        runs: RunService,
        status: Annotated[RunStatus | None, Parameter(description=VALID["status"])] = None,
        limit: Annotated[
            int, Parameter(ge=1, le=MAX_LIMIT, description=VALID["limit"])
        ] = DEFAULT_LIMIT,
        cursor: Annotated[str | None, Parameter(description=VALID["cursor"])] = None,
    ) -> Response[list[RunOut]]:
        rows, next_cursor = runs.page(status, limit, cursor)
        return Response(rows, headers=next_link(request, next_cursor))

    @get(
        "/{run_id:str}",
        operation_id="getRun",
        summary="One run: status, diagnostics, timings, error",
        responses=problems(404),
        sync_to_thread=True,
    )
    def get(self, run_id: str, runs: RunService) -> RunOut:
        return runs.get(run_id)

    @delete(
        "/{run_id:str}",
        guards=[require_token],
        operation_id="withdrawRun",
        summary="Withdraw a run's published forecast; the one before it is served again",
        description=(
            "For a forecast published by mistake. The run and its forecast are kept (the "
            "run shows `withdrawn_at` and `published: false`) but the forecast is served "
            "nowhere: `GET /forecast` serves the live forecast before it (or, for a manual "
            "run, `?as_of=` the one before it at its cut-off, if any), and `GET /forecast/changes` "
            "lists the withdrawal. Withdrawing it again changes nothing. 409 for a run that "
            "published nothing, or for the only live forecast."
        ),
        status_code=200,
        responses=problems(401, 404, 409),
        sync_to_thread=True,
    )
    def withdraw(self, run_id: str, runs: RunService) -> RunOut:
        return runs.withdraw(run_id)
