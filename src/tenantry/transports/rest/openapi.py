"""The problem responses in /openapi.json. Every error is problem+json (`problems.py`), but
FastAPI documents only the success and its own 422 shape, so a client (or a fuzzer) reading
the schema would meet statuses it was never told about. The statuses the shared machinery can
answer are derived here from each route's dependencies and parameters; a route adds its own
(a 409, a 410, a 429) with `responses=problems(...)`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

from tenantry.transports.rest import deps

PROBLEM = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; `code` is the machine-readable reason.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
    },
}
# Any request: the database or the request deadline (transports/rest/limits.py).
ALWAYS = (503,)
# A body: not JSON, too slow, too large, another media type, not valid.
WITH_BODY = (400, 408, 413, 415, 422)
AUTHENTICATED = {
    deps.current_principal: (401,),
    deps.tenant_context: (400, 401, 403),  # the X-Tenant-ID header, the token, the membership
    deps.platform_admin: (401, 403),
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route's own problems."""
    return {status: _problem_response(status) for status in statuses}


def install(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _document(generate(), app.routes)
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document(schema: dict[str, Any], routes: Sequence[BaseRoute]) -> None:
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    # Through FastAPI's own walk: an included router keeps its routes behind a wrapper.
    for context in iter_route_contexts(routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        statuses = _statuses(route)
        for method in route.methods or ():
            operation = schema["paths"][context.path_format].get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status in statuses:
                # FastAPI's own 422 describes its default body, not Tenantry's problem.
                if str(status) not in responses or status == 422:
                    responses[str(status)] = _problem_response(status)


def _statuses(route: APIRoute) -> set[int]:
    statuses = set(ALWAYS)
    if route.body_field is not None:
        statuses.update(WITH_BODY)
    if route.dependant.path_params:
        statuses.update((404, 422))
    queries = [param.name for param in _query_params(route.dependant)]
    if queries:
        statuses.add(422)
    if "cursor" in queries:
        statuses.add(400)  # invalid_cursor
    for call in _calls(route.dependant):
        statuses.update(AUTHENTICATED.get(call, ()))
    return statuses


def _calls(dependant: Dependant) -> set[Any]:
    return {sub.call for sub in _walk(dependant)}


def _query_params(dependant: Dependant) -> Iterator[Any]:
    for sub in (dependant, *_walk(dependant)):
        yield from sub.query_params


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _walk(sub)


def _problem_response(status: int) -> dict[str, Any]:
    return {
        "description": HTTPStatus(status).phrase,
        "content": {PROBLEM: {"schema": PROBLEM_REF}},
    }
