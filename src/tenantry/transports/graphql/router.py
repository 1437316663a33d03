"""`POST /graphql` (and GraphiQL on `GET /graphql` when enabled): strawberry's FastAPI router
with a bounded body, errors shaped in one place, and transport errors as problem+json."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse
from starlette.types import Message
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from tenantry.transports.graphql.context import GraphQLContext, get_context
from tenantry.transports.graphql.errors import shaped
from tenantry.transports.graphql.schema import schema
from tenantry.transports.rest.bodies import read_limited

PATH = "/graphql"
MAX_BODY_BYTES = 64 * 1024

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class BoundedRoute(APIRoute):
    """Reads at most `MAX_BODY_BYTES` before strawberry sees the request (413 past that), and
    turns strawberry's plain-text transport errors (bad JSON, no query...) into problems."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def bounded(request: Request) -> Response:
            body = await read_limited(request, limit=MAX_BODY_BYTES, what="A GraphQL request")

            async def replay() -> Message:
                return {"type": "http.request", "body": body, "more_body": False}

            response = await handler(Request(request.scope, replay))
            if isinstance(response, PlainTextResponse) and response.status_code >= 400:
                raise HTTPException(response.status_code, bytes(response.body).decode())
            return response

        return bounded


class Gateway(GraphQLRouter[GraphQLContext, None]):
    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        if result.errors:
            result.errors = [shaped(error) for error in result.errors]
        return await super().process_result(request, result)


def graphql_router(*, graphiql: bool) -> GraphQLRouter[GraphQLContext, None]:
    """The gateway's routes: `POST /graphql`, and `GET /graphql` serving GraphiQL only when
    `graphiql` (development: its page loads scripts from a CDN). No queries over GET, no
    subscriptions, no batching, no multipart."""
    router = Gateway(
        schema,
        path=PATH,
        graphql_ide="graphiql" if graphiql else None,
        allow_queries_via_get=False,
        context_getter=get_context,
        subscription_protocols=(),
        route_class=BoundedRoute,
        include_in_schema=False,
    )
    router.routes[:] = [
        route
        for route in router.routes
        if isinstance(route, APIRoute) and ("POST" in (route.methods or ()) or graphiql)
    ]
    return router
