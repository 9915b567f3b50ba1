"""GET /track-record."""

from __future__ import annotations

from litestar import Controller, get
from litestar.datastructures import State
from litestar.di import Provide

from service.track_record.schemas import TrackRecordOut
from service.track_record.service import TrackRecordService


def provide_track_record(state: State) -> TrackRecordService:
    served = [q.place.directory for q in state["questions"]]
    return TrackRecordService(state["settings"].track_record, served)


class TrackRecordController(Controller):
    path = "/track-record"
    tags = ("track record",)

    @get(
        operation_id="getTrackRecord",
        summary="Resolved questions replayed at their checkpoints and scored, with calibration",
        dependencies={"track_record": Provide(provide_track_record, sync_to_thread=False)},
        sync_to_thread=True,
    )
    def track_record(self, track_record: TrackRecordService) -> TrackRecordOut:
        return track_record.read()
