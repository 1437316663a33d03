"""The GraphQL gateway (SPEC §9): `POST /graphql` over the same domain services, rules and
authentication as the REST API."""

from tenantry.transports.graphql.router import graphql_router

__all__ = ["graphql_router"]
