"""GET /: the page a person reads, a static document fed by the JSON API."""

from __future__ import annotations

from pathlib import Path

from litestar import Controller, MediaType, Response, get

PAGE = (Path(__file__).resolve().parent.parent / "static" / "index.html").read_bytes()


class PageController(Controller):
    path = "/"
    tags = ("page",)

    @get(
        operation_id="getPage",
        summary="The forecast page: deadlines, probability over time, allies, evidence",
        media_type=MediaType.HTML,
        sync_to_thread=False,
    )
    def page(self) -> Response[bytes]:
        return Response(PAGE, media_type=MediaType.HTML)
