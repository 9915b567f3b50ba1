"""Domain errors and the one place that turns every error into RFC 9457 problem details."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException
from sqlalchemy.exc import OperationalError

from forecast.data.records import Problem as DataProblem
from forecast.data.records import ValidationError
from service.common.outages import WRITE_RETRY_AFTER_SECONDS, reason_of
from service.common.schemas import VALID, Problem, ProblemError

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:forecast:problem:"


class ServiceError(Exception):
    """An error a client can act on: status, a slug for ``type``, and the fields at fault."""

    status_code = 400
    slug = "bad-request"

    def __init__(
        self,
        detail: str,
        errors: Iterable[ProblemError | DataProblem] = (),
        headers: dict[str, str] | None = None,
    ):
        super().__init__(detail)
        self.detail = detail
        self.errors = [ProblemError(e.field, e.message, e.valid) for e in errors]
        self.headers = headers or {}


class BadRequest(ServiceError):
    """A query parameter or a body that cannot be read."""


class InvalidInput(ServiceError):
    """A readable body whose fields are not valid."""

    status_code = 422
    slug = "invalid-input"

    @classmethod
    def from_validation(cls, exc: ValidationError, detail: str) -> InvalidInput:
        return cls(detail, exc.problems)


class NotFound(ServiceError):
    status_code = 404
    slug = "not-found"


class Conflict(ServiceError):
    """The resource is not in a state the request can act on (a run with no forecast to
    withdraw, say)."""

    status_code = 409
    slug = "conflict"


class Unauthorized(ServiceError):
    status_code = 401
    slug = "unauthorized"

    def __init__(self, detail: str, errors: Iterable[ProblemError] = ()):
        super().__init__(detail, errors, {"WWW-Authenticate": 'Bearer realm="forecast"'})


class Forbidden(ServiceError):
    """A valid token that may not do this (a token limited to other questions)."""

    status_code = 403
    slug = "forbidden"


class NoForecast(ServiceError):
    """Nothing is published yet: the client should come back later."""

    status_code = 503
    slug = "no-forecast-yet"

    def __init__(self, detail: str, errors: Iterable[ProblemError] = ()):
        super().__init__(detail, errors, {"Retry-After": "5"})


class Unavailable(ServiceError):
    status_code = 503
    slug = "unavailable"


class Busy(ServiceError):
    """The server is at a bound it keeps (what-if computations): come back shortly."""

    status_code = 503
    slug = "busy"

    def __init__(self, detail: str, errors: Iterable[ProblemError] = (), retry_after: int = 1):
        super().__init__(detail, errors, {"Retry-After": str(retry_after)})


class TooManyRequests(ServiceError):
    """A limit of this client or of the queue: come back after ``Retry-After`` seconds."""

    status_code = 429
    slug = "too-many-requests"

    def __init__(self, detail: str, errors: Iterable[ProblemError] = (), retry_after: int = 60):
        super().__init__(detail, errors, {"Retry-After": str(retry_after)})


def problem_response(
    request: Request,
    status: int,
    slug: str,
    detail: str,
    errors: list[ProblemError],
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    body = Problem(
        type=TYPE_PREFIX + slug,
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=request.url.path,
        errors=errors,
    )
    return Response(
        msgspec.json.encode(body),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def handle_service_error(request: Request, exc: ServiceError) -> Response[bytes]:
    return problem_response(request, exc.status_code, exc.slug, exc.detail, exc.errors, exc.headers)


def handle_validation_error(request: Request, exc: ValidationError) -> Response[bytes]:
    return handle_service_error(request, InvalidInput.from_validation(exc, "invalid input"))


def handle_http_exception(request: Request, exc: HTTPException) -> Response[bytes]:
    """Litestar's own errors (routing, body decoding, size limit) as problem details."""
    status = exc.status_code
    headers = dict(exc.headers or {})
    if status == 404:
        errors = [ProblemError("path", f"{request.url.path} is not a resource", "see /schema")]
        return problem_response(request, 404, "not-found", "no such resource", errors, headers)
    if status == 405:
        allowed = headers.get("allow") or headers.get("Allow") or ""
        errors = [ProblemError("method", f"{request.method} is not allowed here", allowed)]
        return problem_response(
            request, 405, "method-not-allowed", "method not allowed", errors, {"Allow": allowed}
        )
    if status == 413:
        limit = request.route_handler.resolve_request_max_body_size()
        errors = [ProblemError("body", "is too large", f"at most {limit} bytes")]
        return problem_response(request, 413, "body-too-large", "request body too large", errors)
    if status == 400:
        return _bad_request(request, exc)
    if status >= 500:
        logger.error("%s %s failed: %s", request.method, request.url.path, exc.detail)
        return problem_response(request, status, "server-error", "internal error", [], headers)
    return problem_response(request, status, "client-error", str(exc.detail), [], headers)


def _write_status(request: Request) -> Any:
    """The write status of the question in the path (the default one unprefixed)."""
    questions = request.app.state.get("questions")  # none before the app has started
    question = questions.found_in_path(request.path_params.get("slug")) if questions else None
    return question.write_status if question is not None else None


def handle_storage_error(request: Request, exc: OperationalError) -> Response[bytes]:
    """The database did not answer or cannot be written (read-only, disk full): an outage.

    A failed write marks writes unavailable (``/health`` says so until a write works
    again); the traceback is not logged, the outage is, once.
    """
    reason = reason_of(exc)
    if request.method in ("GET", "HEAD", "OPTIONS"):
        logger.error(
            "%s %s: the database does not answer: %s", request.method, request.url.path, reason
        )
        return problem_response(
            request, 503, "unavailable", "the database does not answer", [], {"Retry-After": "5"}
        )
    status = _write_status(request)
    if status is not None:
        status.failed(exc)
    return problem_response(
        request,
        503,
        "writes-unavailable",
        "writes are unavailable: the database cannot be written (nothing was stored); "
        "reads still work",
        [ProblemError("database", reason, f"retry after {WRITE_RETRY_AFTER_SECONDS} s")],
        {"Retry-After": str(WRITE_RETRY_AFTER_SECONDS)},
    )


def handle_unexpected(request: Request, exc: Exception) -> Response[bytes]:
    """Only for bugs: logged with the traceback, answered without internals."""
    logger.exception("unexpected error in %s %s", request.method, request.url.path)
    return problem_response(
        request, 500, "server-error", "internal error; it has been logged", [], None
    )


EXCEPTION_HANDLERS: dict[type[Exception], Any] = {
    ServiceError: handle_service_error,
    ValidationError: handle_validation_error,
    HTTPException: handle_http_exception,
    OperationalError: handle_storage_error,
    Exception: handle_unexpected,
}


_FIELD_IN_MESSAGE = re.compile(r"(unknown|missing required) field `([^`]+)`")


def _bad_request(request: Request, exc: HTTPException) -> Response[bytes]:
    """A body or query parameter the framework could not decode: name the field.

    A body that is not a JSON object is 400; an object with a wrong field is 422, as
    when ``validate_evidence`` rejects it.
    """
    fields = _body_fields(request)
    body_valid = "a JSON object with the fields " + ", ".join(fields) if fields else ""
    extra = exc.extra if isinstance(exc.extra, list) else []
    errors: list[ProblemError] = []
    in_body_field = False
    for item in extra:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", "is not valid"))
        key = str(item.get("key") or "")
        match = _FIELD_IN_MESSAGE.search(message)
        if match:
            field = match.group(2)
            unknown = match.group(1) == "unknown"
            valid = ", ".join(fields) if unknown else _valid(request, field)
            message = "is not a field" if unknown else "is required"
            in_body_field = True
        elif item.get("source") == "body" and key not in ("", "data"):
            field, valid, in_body_field = key, _valid(request, key), True
        elif item.get("source") == "body" or key == "data":
            field, valid, message = "body", body_valid, "is not a JSON object with these fields"
        else:
            field, valid = key or "request", _valid(request, key)
        errors.append(ProblemError(field, message, valid))
    if not errors:
        errors = [ProblemError("body", str(exc.detail), body_valid or "valid JSON")]
    status, slug = (422, "invalid-input") if in_body_field else (400, "bad-request")
    detail = "invalid " + ", ".join(dict.fromkeys(e.field for e in errors))
    return problem_response(request, status, slug, detail, errors)


def _body_fields(request: Request) -> tuple[str, ...]:
    """The field names of the msgspec struct a route reads its body into."""
    handler = request.scope.get("route_handler")
    parameter = handler.parsed_fn_signature.parameters.get("data") if handler else None
    annotation = getattr(parameter, "annotation", None)
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return annotation.__struct_fields__
    return ()


def _valid(request: Request, field: str) -> str:
    if field == "ally":
        dataset = getattr(request.app.state, "dataset", None)
        if dataset is not None:
            return ", ".join(sorted(dataset.codes))
    return VALID.get(field, "see the OpenAPI schema at /schema")
