"""HTTP routes: one Controller per resource."""

from service.routes.allies import AllyController
from service.routes.evidence import EvidenceController
from service.routes.forecast import ForecastController
from service.routes.health import HealthController
from service.routes.page import PageController
from service.routes.runs import RunController

CONTROLLERS = (
    HealthController,
    ForecastController,
    EvidenceController,
    RunController,
    AllyController,
    PageController,
)
