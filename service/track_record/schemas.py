"""Response body of /track-record (msgspec structs; they are the OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import Meta, Struct


class TrackRecordOut(Struct, kw_only=True):
    """The stored track record (README "Track record") and whether it is current."""

    status: Annotated[
        Literal["ok", "stale", "missing"],
        Meta(
            description="ok: made by this code on these data; stale: made by other code, "
            "another version or other data (reason says which); missing: no record, or a "
            "file that cannot be read as one"
        ),
    ]
    reason: str | None = None
    how_to_rebuild: Annotated[str, Meta(description="The command that makes the record")]
    made_at: str | None = None
    quick: Annotated[
        bool | None, Meta(description="Made with few draws: runs end to end, not for judging")
    ] = None
    package_version: str | None = None
    config_hash: str | None = None
    model_code_hash: str | None = None
    source_hash: Annotated[str | None, Meta(description="The checks' code")] = None
    settings: Annotated[
        dict[str, Any] | None, Meta(description="Seed, sampler settings, max checkpoints")
    ] = None
    seconds: float | None = None
    questions: Annotated[
        list[dict[str, Any]],
        Meta(
            description="Per resolved question: its checkpoints, each forecast with its "
            "outcome, Brier and log scores and the base rate's, the confirmation date's "
            "intervals; its scores"
        ),
    ] = []
    pooled: Annotated[
        dict[str, Any] | None,
        Meta(description="Over every question: scores, calibration table, coverage"),
    ] = None
