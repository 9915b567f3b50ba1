"""GET /questions: the served questions, as JSON or (for a browser) the index page."""

from __future__ import annotations

from litestar import Controller, MediaType, Request, Response, get
from litestar.datastructures import State

from service.page.routes import QUESTIONS_PAGE
from service.questions.schemas import QuestionsOut
from service.questions.service import listing


class QuestionController(Controller):
    path = "/questions"
    tags = ("questions",)

    @get(
        operation_id="listQuestions",
        summary="The served questions: slug, question, clock, headline numbers and links",
        description=(
            "Open questions first, then those whose outcome is on record. Every endpoint "
            "of the default question exists per question under /questions/{slug}/. A "
            "browser (Accept: text/html) gets the question index page."
        ),
        media_type=MediaType.JSON,
        sync_to_thread=True,
    )
    def list_questions(self, request: Request, state: State) -> QuestionsOut:
        wanted = request.accept.best_match([MediaType.JSON, MediaType.HTML], MediaType.JSON)
        if wanted == MediaType.HTML:
            # Sent as it is; the schema documents the JSON answer alone (a union with the
            # page would make every JSON answer match two schemas).
            return Response(QUESTIONS_PAGE, media_type=MediaType.HTML)  # type: ignore[return-value]
        return listing(state.questions)
