"""A bare Litestar endpoint serving fixed bytes: the baseline for GET /forecast."""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn
from litestar import Litestar, MediaType, Response, get


def create_bare_app(body: bytes) -> Litestar:
    @get("/forecast", media_type=MediaType.JSON, sync_to_thread=False)
    def forecast() -> Response[bytes]:
        return Response(content=body, media_type=MediaType.JSON)

    return Litestar(route_handlers=[forecast], logging_config=None)


if __name__ == "__main__":
    uvicorn.run(
        create_bare_app(Path(sys.argv[1]).read_bytes()),
        host="127.0.0.1",
        port=int(sys.argv[2]),
        log_level="warning",
    )
