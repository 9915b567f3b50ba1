"""GET /forecast (cached, with ETag), its history (JSON and CSV) and what changed."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.openapi import ResponseSpec
from litestar.params import Parameter
from litestar.types import ASGIApp, Receive, Scope, Send

from service.common.paging import DEFAULT_LIMIT, MAX_LIMIT, next_link
from service.common.schemas import VALID
from service.forecasts.cache import View
from service.forecasts.changes import ChangeService
from service.forecasts.parameters import BY_WINDOW_YEARS
from service.forecasts.schemas import ChangeOut, ForecastOut, HistoryRow
from service.forecasts.service import ForecastService
from service.http.clients import client_key
from service.http.responses import problems

Limit = Annotated[int, Parameter(ge=1, le=MAX_LIMIT, description=VALID["limit"])]
Cursor = Annotated[str | None, Parameter(description=VALID["cursor"])]


def held_by_client(view: View, if_none_match: str | None) -> bool:
    """Whether ``If-None-Match`` names the view's ETag (or ``*``): the answer is then 304."""
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or view.etag in tags


def conditional(view: View, if_none_match: str | None) -> Response[bytes]:
    """The view's bytes, or 304 when the client already holds them."""
    headers = {"ETag": view.etag, "Cache-Control": "no-cache"}
    if held_by_client(view, if_none_match):
        return Response(b"", status_code=304, headers=headers)
    return Response(view.body, media_type="application/json", headers=headers)


def _forecasts(scope: Scope) -> Any:
    """The forecasts of the question in the path (the default one unprefixed); None for a
    slug not served, which the handler answers with its 404."""
    questions = scope["litestar_app"].state.questions
    question = questions.found_in_path(scope.get("path_params", {}).get("slug"))
    return question.forecasts if question is not None else None


class CachedLiveForecast:
    """Middleware of GET /forecast: a request without parameters whose answer is cached
    is sent before Litestar parses parameters and resolves dependencies.

    This is the service's hot path (README.md, "Measured": at least 0.8x of a bare endpoint); every
    other request goes to the handler, which answers the same bytes and headers.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        view = None
        if scope["type"] == "http" and not scope.get("query_string"):
            forecasts = _forecasts(scope)
            view = forecasts.cached_live() if forecasts is not None else None
        if view is None:
            await self.app(scope, receive, send)
            return
        if_none_match = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == b"if-none-match"), None
        )
        fresh = not held_by_client(view, if_none_match)
        headers = [(b"etag", view.etag.encode()), (b"cache-control", b"no-cache")]
        if fresh:
            headers += [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(view.body)).encode()),
            ]
        await send(
            {"type": "http.response.start", "status": 200 if fresh else 304, "headers": headers}
        )
        await send({"type": "http.response.body", "body": view.body if fresh else b""})


class ForecastController(Controller):
    path = "/forecast"
    tags = ("forecast",)

    @get(
        operation_id="getForecast",
        summary="The latest published forecast (with what-ifs and extra deadlines)",
        description=(
            "The live forecast: that of the runs following the evidence (the greatest "
            "`as_of`, the newest of equals; a manual run's only at its `?as_of=`, and a "
            "withdrawn one nowhere). "
            "Served from a cache with an `ETag`; `If-None-Match` gets 304. `by` dates run "
            f"from the campaign start to {BY_WINDOW_YEARS} years after the cut-off. A new "
            "what-if is computed once however many ask at once; a client (by address, or "
            "by the bearer token) holding its share of the what-if slots waits up to a "
            "second for one to free, then gets 429 with `Retry-After`; when every what-if slot "
            "is busy the answer is 503 with `Retry-After`."
        ),
        responses={
            200: ResponseSpec(data_container=ForecastOut, description="The forecast document"),
            304: ResponseSpec(data_container=None, description="Not modified"),
            **problems(400, 404, 429, 503),
        },
        middleware=[CachedLiveForecast],
    )
    async def forecast(
        self,
        request: Request,
        forecasts: ForecastService,
        as_of: Annotated[str | None, Parameter(description=VALID["as_of"])] = None,
        by: Annotated[list[str] | None, Parameter(description=VALID["by"])] = None,
        assume: Annotated[list[str] | None, Parameter(description=VALID["assume"])] = None,
        if_none_match: Annotated[str | None, Parameter(header="If-None-Match")] = None,
    ) -> Response[bytes]:
        # A parameter given more than once reads as one comma-separated list: repeated
        # dates merge, and conflicting assumptions are refused, whichever way they come.
        view = await forecasts.view(
            as_of=as_of,
            by=",".join(by) if by else None,
            assume=",".join(assume) if assume else None,
            client=client_key(request),
        )
        return conditional(view, if_none_match)

    @get(
        "/history",
        operation_id="getForecastHistory",
        summary="One row per published run: cut-off and P(confirmed) per deadline",
        description="Oldest first, a page at a time: the next page is in the `Link` header.",
        responses=problems(400),
        sync_to_thread=True,
    )
    def history(
        self,
        request: Request,
        forecasts: ForecastService,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Response[list[HistoryRow]]:
        rows, next_cursor = forecasts.history(limit, cursor)
        return Response(rows, headers=next_link(request, next_cursor))

    @get(
        "/history.csv",
        operation_id="getForecastHistoryCsv",
        summary="The history as CSV: one row per published run and deadline",
        description=(
            "Columns: as_of, run_id, published_at, deadline, deadline_date, p_confirmed, "
            "interval_low, interval_high (the 94% interval). Oldest first, at most `limit` "
            "runs a page: the next page is in the `Link` header."
        ),
        media_type="text/csv; charset=utf-8",
        responses=problems(400),
        sync_to_thread=True,
    )
    def history_csv(
        self,
        request: Request,
        forecasts: ForecastService,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Response[str]:
        text, next_cursor = forecasts.history_csv(limit, cursor)
        headers = {"Content-Disposition": 'attachment; filename="forecast-history.csv"'}
        return Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers=headers | next_link(request, next_cursor),
        )

    @get(
        "/changes",
        operation_id="getForecastChanges",
        summary="What changed with each published forecast, newest first",
        description=(
            "Per published run: the evidence `added` and `retracted` since the forecast it "
            "replaced (ids, and the items with their sources), the change of P(confirmed) "
            "per deadline and of P(ever confirmed), and the allies that moved most. A live "
            "run replaces the live forecast; a manual run (`POST /runs`) the forecast "
            "served at its own cut-off, or nothing (`previous_run_id: null`), never the "
            "live one. A withdrawal (`DELETE /runs/{id}`) is an entry of its own (`event: "
            "withdrawn`), moving back to the forecast served in its place (`restored_run_id`, "
            "null when nothing is). A page "
            "at a time: the next page is in the `Link` header."
        ),
        responses=problems(400),
        sync_to_thread=True,
    )
    def changes(
        self,
        request: Request,
        changes: ChangeService,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Response[list[ChangeOut]]:
        rows, next_cursor = changes.page(limit, cursor)
        return Response(rows, headers=next_link(request, next_cursor))

    @get(
        "/changes/{run_id:str}",
        operation_id="getForecastChange",
        summary="What changed with one published forecast",
        responses=problems(404),
        sync_to_thread=True,
    )
    def change(self, run_id: str, changes: ChangeService) -> ChangeOut:
        return changes.get(run_id)
