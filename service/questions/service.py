"""The list of served questions with each one's headline numbers."""

from __future__ import annotations

import logging

import msgspec

from service.common.errors import NoForecast
from service.questions.registry import Questions, QuestionServices
from service.questions.schemas import Headline, QuestionLinks, QuestionOut, QuestionsOut

logger = logging.getLogger(__name__)


def links(slug: str) -> QuestionLinks:
    base = f"/questions/{slug}"
    return QuestionLinks(
        page=f"{base}/",
        forecast=f"{base}/forecast",
        history=f"{base}/forecast/history",
        changes=f"{base}/forecast/changes",
        evidence=f"{base}/evidence",
        runs=f"{base}/runs",
        allies=f"{base}/allies",
        health=f"{base}/health",
    )


def headline(question: QuestionServices) -> Headline | None:
    """The live forecast's headline numbers (a read of the question's database)."""
    try:
        run_id = question.forecasts.current_run_id()
    except NoForecast:
        return None
    return msgspec.json.decode(question.forecasts.documents.view(run_id).body, type=Headline)


def listing(questions: Questions) -> QuestionsOut:
    """Every served question: open ones first, the default first among them."""
    found = []
    for question in questions:
        q = question.dataset.question
        found.append(
            QuestionOut(
                slug=question.slug,
                question=q.question,
                candidate=q.candidate,
                opened=q.opened,
                clock=q.clock,  # type: ignore[arg-type]  # checked by the loader
                resolved=question.place.resolved,
                default=question.place.default,
                headline=headline(question),
                links=links(question.slug),
            )
        )
    found.sort(key=lambda q: (q.resolved, not q.default, q.slug))
    return QuestionsOut(questions=found)
