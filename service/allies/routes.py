"""GET /allies, GET /allies/{code}."""

from __future__ import annotations

from litestar import Controller, get

from service.allies.schemas import AllyDetail, AllyOut
from service.allies.service import AllyService
from service.http.responses import problems


class AllyController(Controller):
    path = "/allies"
    tags = ("allies",)

    @get(
        operation_id="listAllies",
        summary="The allies, each with its entry in the live forecast",
        sync_to_thread=True,
    )
    def list(self, allies: AllyService) -> list[AllyOut]:
        return allies.list()

    @get(
        "/{code:str}",
        operation_id="getAlly",
        summary="One ally: its grievances, its evidence and its live forecast entry",
        responses=problems(404),
        sync_to_thread=True,
    )
    def get(self, code: str, allies: AllyService) -> AllyDetail:
        return allies.get(code.upper())
