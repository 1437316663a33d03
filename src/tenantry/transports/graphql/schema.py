"""The gateway's schema: the query and mutation roots with the document limits."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionContext

from tenantry.transports.graphql.limits import EXTENSIONS
from tenantry.transports.graphql.mutations import Mutation
from tenantry.transports.graphql.queries import Query


class GatewaySchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Nothing: strawberry would log every error with its traceback, expected ones too;
        `errors.shaped` logs the unexpected ones."""


schema = GatewaySchema(query=Query, mutation=Mutation, extensions=EXTENSIONS)
