"""The API reference at ``/schema``: plain HTML rendered here from the OpenAPI document.

It needs no script and nothing from another site (Litestar's default renderers load one
from a CDN at a floating version), so it works offline and under the content security
policy; tools read ``/schema/openapi.json``.
"""

from __future__ import annotations

import html
import logging
from typing import Any

from litestar import Request
from litestar.openapi.plugins import OpenAPIRenderPlugin

logger = logging.getLogger(__name__)

METHODS = ("get", "post", "put", "patch", "delete")


class ReferencePlugin(OpenAPIRenderPlugin):
    """Each operation with its summary, description, parameters and answers."""

    def __init__(self) -> None:
        super().__init__(path="/", favicon="", style="")

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        info = openapi_schema.get("info", {})
        parts = [
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
            f"<title>{_e(info.get('title', 'API'))}: API reference</title>",
            "<link rel='stylesheet' href='/static/page.css'></head><body>",
            f"<h1>{_e(info.get('title', 'API'))} {_e(info.get('version', ''))}</h1>",
            f"<p>{_e(info.get('description', ''))}</p>",
            "<p>The OpenAPI document: <a href='openapi.json'>openapi.json</a> "
            "(for tools and client generators).</p>",
        ]
        for path, operations in openapi_schema.get("paths", {}).items():
            for method in METHODS:
                if method in operations:
                    parts.append(_operation(method, path, operations[method]))
        parts.append("</body></html>")
        return "".join(parts).encode()


def _operation(method: str, path: str, operation: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td><code>{_e(p.get('name'))}</code></td><td>{_e(p.get('in'))}</td>"
        f"<td>{'yes' if p.get('required') else 'no'}</td>"
        f"<td>{_e(p.get('description', ''))}</td></tr>"
        for p in operation.get("parameters", [])
    )
    answers = ", ".join(
        f"{_e(code)} {_e(r.get('description', ''))}"
        for code, r in operation.get("responses", {}).items()
    )
    return (
        f"<h2><code>{method.upper()} {_e(path)}</code></h2>"
        f"<p>{_e(operation.get('summary', ''))}</p>"
        f"<p class='meta'>{_e(operation.get('description', ''))}</p>"
        + (
            "<table><tr><th>parameter</th><th>in</th><th>required</th><th>valid</th></tr>"
            f"{rows}</table>"
            if rows
            else ""
        )
        + f"<p class='meta'>Answers: {answers}</p>"
    )


def _e(value: Any) -> str:
    return html.escape(str(value if value is not None else ""))
