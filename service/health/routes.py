"""GET /health."""

from __future__ import annotations

from litestar import Controller, get

from service.health.schemas import HealthOut
from service.health.service import HealthService
from service.http.responses import problems


class HealthController(Controller):
    path = "/health"
    tags = ("health",)

    @get(
        operation_id="getHealth",
        summary="Service health: database, live forecast, queue",
        responses=problems(503),
        sync_to_thread=True,
    )
    def health(self, health: HealthService) -> HealthOut:
        return health.check()
