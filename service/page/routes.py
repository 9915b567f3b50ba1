"""GET /: the page a person reads, and GET /track-record/page: static documents fed by
the JSON API; their scripts and style are served beside them (``/static/...``) so that
the content security policy needs no inline code."""

from __future__ import annotations

from pathlib import Path

from litestar import Controller, MediaType, Response, get
from litestar.datastructures import State

from service.common.errors import NotFound

STATIC = Path(__file__).resolve().parent / "static"
PAGE = (STATIC / "index.html").read_bytes()
# The question index (GET /questions for a browser).
QUESTIONS_PAGE = (STATIC / "questions.html").read_bytes()
TRACK_RECORD_PAGE = (STATIC / "track-record.html").read_bytes()
ASSETS = {
    "format.js": ((STATIC / "format.js").read_bytes(), "text/javascript"),
    "page.js": ((STATIC / "page.js").read_bytes(), "text/javascript"),
    "track-record.js": ((STATIC / "track-record.js").read_bytes(), "text/javascript"),
    "page.css": ((STATIC / "page.css").read_bytes(), "text/css"),
    "questions.js": ((STATIC / "questions.js").read_bytes(), "text/javascript"),
}


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

    @get(
        "/track-record/page",
        operation_id="getTrackRecordPage",
        summary="The track record page: past questions' forecasts against their outcomes",
        media_type=MediaType.HTML,
        sync_to_thread=False,
    )
    def track_record_page(self) -> Response[bytes]:
        return Response(TRACK_RECORD_PAGE, media_type=MediaType.HTML)

    @get("/static/{name:str}", include_in_schema=False, sync_to_thread=False)
    def asset(self, name: str) -> Response[bytes]:
        """The page's script and style (404 for any other name)."""
        if name not in ASSETS:
            raise NotFound(f"no static file {name!r}")
        body, media_type = ASSETS[name]
        return Response(body, media_type=media_type, headers={"Cache-Control": "no-cache"})


class QuestionPageController(Controller):
    """GET /questions/{slug}/: the same page for one question (its script reads that
    question's endpoints, under the same prefix)."""

    path = "/"
    tags = ("page",)

    @get(
        operation_id="getQuestionPage",
        summary="One question's forecast page",
        media_type=MediaType.HTML,
        sync_to_thread=False,
    )
    def page(self, state: State, slug: str) -> Response[bytes]:
        state.questions.in_path(slug)  # 404 naming the served slugs
        return Response(PAGE, media_type=MediaType.HTML)
