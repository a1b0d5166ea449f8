"""The one JSON error envelope, and the translation of every error into it.

``{"error": {"code": ..., "message": ..., "details": [{"field": ..., "message": ...}],
"request_id": ...}}``, for every status the API returns (400/401/403/404/405/409/413/415/422/
429/500/503). Domain errors are translated here, once; route handlers raise them (or
:class:`ApiError`) and never build error bodies.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from vatti.api.hardening import response_headers
from vatti.api.views import job_view
from vatti.domain.errors import InvalidRequest
from vatti.domain.requests import MAX_JSON_NESTING, nested_too_deep
from vatti.errors import VattiError
from vatti.logging_setup import REQUEST_ID
from vatti.pipelines.errors import InvalidParams, UnknownPipeline
from vatti.service.errors import (
    DuplicateClientId,
    Forbidden,
    InvalidJobRequest,
    LogNotFound,
    MalformedRequest,
    OutputMissing,
    ResultsNotFound,
    StateConflict,
)
from vatti.store.errors import InvalidCursor, JobNotFound

logger = logging.getLogger("vatti.api")

Detail = Mapping[str, str]

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
}


class ApiError(Exception):
    """An error response: status, stable code, message, per-field details, extra body keys."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Sequence[Detail] = (),
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = [dict(d) for d in details]
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def envelope(
    code: str, message: str, details: Sequence[Detail] = (), **extra: Any
) -> dict[str, Any]:
    """The error body; ``request_id`` is the id of the request being answered, if any."""
    error: dict[str, Any] = {
        "code": code,
        "message": message,
        "details": [dict(d) for d in details],
    }
    request_id = REQUEST_ID.get()
    if request_id is not None:
        error["request_id"] = request_id
    return {"error": error, **extra}


def error_response(err: ApiError) -> JSONResponse:
    return JSONResponse(
        envelope(err.code, err.message, err.details, **err.extra),
        status_code=err.status,
        headers=err.headers or None,
    )


def translate(exc: VattiError) -> ApiError:
    """A vatti error as the API error a client sees."""
    if isinstance(exc, JobNotFound | ResultsNotFound | OutputMissing | LogNotFound):
        return ApiError(404, exc.code, exc.message)
    if isinstance(exc, Forbidden):
        return ApiError(403, exc.code, exc.message)
    if isinstance(exc, StateConflict):
        return ApiError(409, exc.code, exc.message)
    if isinstance(exc, DuplicateClientId):
        view = job_view(exc.job).model_dump(mode="json")
        return ApiError(409, exc.code, exc.message, extra={"job": view})
    if isinstance(exc, MalformedRequest):
        return ApiError(400, exc.code, exc.message)
    if isinstance(exc, InvalidJobRequest):
        return ApiError(422, exc.code, exc.message, details=exc.details)
    if isinstance(exc, InvalidParams):
        return ApiError(422, "invalid_request", exc.message, details=exc.errors)
    if isinstance(exc, UnknownPipeline):
        return ApiError(
            422, exc.code, exc.message, details=[{"field": "pipeline", "message": exc.message}]
        )
    if isinstance(exc, InvalidCursor):
        return ApiError(
            400, exc.code, exc.message, details=[{"field": "cursor", "message": exc.message}]
        )
    if isinstance(exc, InvalidRequest):
        return ApiError(422, "invalid_request", exc.message)
    if exc.transient:
        return ApiError(
            503,
            "service_unavailable",
            "the service cannot reach its database just now; try again",
            headers={"Retry-After": "1"},
        )
    return ApiError(500, "internal_error", "internal server error")


def validation_details(
    errors: Sequence[Any], *, strip: tuple[str, ...] = ("body",)
) -> list[Detail]:
    """pydantic/FastAPI errors as ``{"field", "message"}``, fields as dotted paths."""
    out: list[Detail] = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] in strip:
            loc = loc[1:]
        out.append({"field": ".".join(loc), "message": str(err.get("msg", "invalid value"))})
    return out


def json_body_error(errors: Sequence[Any]) -> ApiError | None:
    """The 400 for a body that is not JSON (``malformed_json``) or nests too deeply
    (``json_too_deep``), from pydantic's errors; None when the body was JSON."""
    if nested_too_deep(errors):
        return ApiError(
            400,
            "json_too_deep",
            f"the request body nests arrays and objects more than {MAX_JSON_NESTING} levels deep",
        )
    if any(err.get("type") == "json_invalid" for err in errors):
        return ApiError(400, "malformed_json", "the request body is not valid JSON")
    return None


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def _vatti_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, VattiError)
    err = translate(exc)
    if err.status >= 500:
        logger.error("api.error code=%s", exc.code, exc_info=exc)
    return error_response(err)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    malformed = json_body_error(errors)
    if malformed is not None:
        return error_response(malformed)
    details = validation_details(errors, strip=("body", "query", "path", "header"))
    return error_response(
        ApiError(422, "invalid_request", "the request is invalid", details=details)
    )


def http_error_handler(
    routes: Sequence[BaseRoute],
) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    """Starlette's HTTP errors (404, 405...) in the envelope; a 405's ``Allow`` names every
    method of the path (a FastAPI route holds one method, Starlette would name the first's)."""

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(routes, request.scope))
        return error_response(ApiError(exc.status_code, code, message, headers=headers))

    return handle


def allowed_methods(routes: Sequence[BaseRoute], scope: Scope) -> list[str]:
    """Every method of the ``routes`` whose path matches the request's."""
    methods: set[str] = set()
    for route in routes:
        match, _ = route.matches(scope)
        if match is not Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return sorted(methods)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.error("api.unhandled_error type=%s", type(exc).__name__, exc_info=exc)
    # answered outside every middleware (by Starlette's outermost one), so the headers the
    # others add are added here
    config = getattr(getattr(request.app.state, "vatti", None), "config", None)
    headers = {
        k.decode(): v.decode()
        for k, v in response_headers(
            REQUEST_ID.get() or "", tls=bool(getattr(config, "tls", False))
        )
        if v
    }
    return error_response(ApiError(500, "internal_error", "internal server error", headers=headers))


def install_error_handlers(app: FastAPI, routes: Sequence[BaseRoute]) -> None:
    """The handlers; ``routes`` are every route of the app, with their full paths."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(VattiError, _vatti_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error_handler(routes))
    app.add_exception_handler(Exception, _unexpected)
