"""The one place errors become RFC 9457 problem+json responses."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException

from tenantry import errors
from tenantry.storage.outages import DRIVER_OUTAGES, is_outage

log = structlog.get_logger("tenantry.http")

STATUS_BY_ERROR: dict[type[errors.DomainError], int] = {
    errors.MalformedRequest: 400,
    errors.Unauthenticated: 401,
    errors.PermissionDenied: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.Gone: 410,
    errors.InvalidInput: 422,
    errors.Throttled: 429,
    errors.Unavailable: 503,
}
CODE_BY_STATUS = {
    400: "malformed_request",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "throttled",
    503: "service_unavailable",
}


def status_for(error: errors.DomainError) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[kind]
    return 500


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": f"https://tenantry.dev/problems/{code.replace('_', '-')}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    return JSONResponse(
        body, status_code=status, headers=headers, media_type="application/problem+json"
    )


async def _domain_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, errors.DomainError)
    status = status_for(error)
    headers = {}
    retry_after = getattr(error, "retry_after", None)  # throttled, or busy (409, 503)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="tenantry"'
    return problem(status, error.code, error.detail, headers=headers, **error.extra)


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    issues = [
        {
            "loc": list(item.get("loc", ())),
            "msg": str(item.get("msg", "")),
            "type": str(item.get("type", "")),
        }
        for item in error.errors()
    ]
    if any(issue["type"] == "json_invalid" for issue in issues):
        return problem(400, "malformed_request", "The request body is not valid JSON.")
    if _body_not_json(request, issues):
        return problem(415, "unsupported_media_type", "Send the request body as application/json.")
    return problem(422, "validation_error", "The request is not valid.", errors=issues)


def _body_not_json(request: Request, issues: list[dict[str, Any]]) -> bool:
    """A body the route reads as JSON came as something else (curl's -d sends a form): the
    validation found no object where the body should be."""
    media_type = request.headers.get("content-type")
    return (
        media_type is not None
        and "json" not in media_type
        and any(issue["loc"] == ["body"] for issue in issues)
    )


async def _http_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    code = CODE_BY_STATUS.get(error.status_code, "error")
    headers = dict(error.headers) if error.headers else None
    return problem(error.status_code, code, str(error.detail), headers=headers)


async def _storage_error(_request: Request, error: Exception) -> JSONResponse:
    """An outage (`storage/outages.py`) is 503 with Retry-After; any other database error is
    a fault of ours, handed on to `_unexpected` as before."""
    if not is_outage(error):
        raise error
    log.warning("database_unavailable", error=repr(error))
    return problem(
        503,
        "database_unavailable",
        "The database is unavailable; try again.",
        headers={"Retry-After": "1"},
    )


async def _unexpected(_request: Request, error: Exception) -> JSONResponse:
    log.error("unhandled_error", exc_info=error)
    return problem(500, "internal_error", "Something went wrong on our side.")


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    for storage_error in (DBAPIError, PoolTimeout, *DRIVER_OUTAGES):
        app.add_exception_handler(storage_error, _storage_error)
    app.add_exception_handler(Exception, _unexpected)
