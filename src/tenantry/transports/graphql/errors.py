"""The one place GraphQL errors get their shape. Domain errors keep their message and carry
`extensions.code` (GraphQL style, from the HTTP status REST would answer with, see
`rest/problems.py`) and `extensions.reason` (the domain's snake_case code); anything unexpected
is logged and answered with a generic message, never a stack trace."""

from __future__ import annotations

from typing import Any

import structlog
from graphql import GraphQLError, GraphQLSyntaxError

from tenantry.errors import DomainError
from tenantry.storage.outages import is_outage
from tenantry.transports.rest.problems import status_for

log = structlog.get_logger("tenantry.graphql")

CODE_BY_STATUS = {
    400: "BAD_USER_INPUT",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    410: "GONE",
    422: "BAD_USER_INPUT",
    429: "TOO_MANY_REQUESTS",
    503: "SERVICE_UNAVAILABLE",
}
INTERNAL = "INTERNAL_SERVER_ERROR"


def shaped(error: GraphQLError) -> GraphQLError:
    """`error` as the client sees it."""
    original = error.original_error
    if isinstance(original, DomainError):
        return _domain(error, original)
    if original is not None and is_outage(original):  # as `rest/problems.py`: 503
        log.warning("database_unavailable", error=repr(original))
        detail = "The database is unavailable; try again."
        return _with(error, detail, "SERVICE_UNAVAILABLE", "database_unavailable", retryAfter=1)
    if isinstance(error, GraphQLSyntaxError):
        return _with(error, error.message, "GRAPHQL_PARSE_FAILED")
    if error.path is None and error.message.startswith("Variable '$"):
        return _with(error, error.message, "BAD_USER_INPUT")  # a variable that does not fit
    if error.path is None and (original is None or isinstance(original, GraphQLError)):
        return _with(error, error.message, "GRAPHQL_VALIDATION_FAILED")  # rules and limits
    log.error("graphql_unhandled_error", path=error.path, exc_info=original or error)
    return _with(error, "Something went wrong on our side.", INTERNAL)


def _domain(error: GraphQLError, original: DomainError) -> GraphQLError:
    extra: dict[str, Any] = dict(original.extra)
    retry_after = getattr(original, "retry_after", None)  # throttled, or busy
    if retry_after is not None:
        extra["retryAfter"] = retry_after
    code = CODE_BY_STATUS.get(status_for(original), INTERNAL)
    return _with(error, original.detail, code, original.code, **extra)


def _with(
    error: GraphQLError, message: str, code: str, reason: str | None = None, **extra: Any
) -> GraphQLError:
    extensions: dict[str, Any] = {"code": code, **extra}
    if reason is not None:
        extensions["reason"] = reason
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )
