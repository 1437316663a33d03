"""Every route of the app, checked from its declaration (SPEC §3): each `/v1` route is either
tenant-scoped (it resolves the one tenant dependency) or on the short list of routes that are
not, and every tenant-scoped route refuses a missing token, a missing or malformed
`X-Tenant-ID` and a tenant the caller is not in, before it looks at the path or body. A new
route that forgets the tenant check fails here."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from tenantry.bootstrap import Container
from tenantry.transports.rest.app import create_app
from tenantry.transports.rest.deps import platform_admin, tenant_context
from tests.support.api import Account, bearer
from tests.support.routes import assert_problem

pytestmark = pytest.mark.integration

GRAPHQL = "/graphql"

# (method, path) of the /v1 routes that are not tenant-scoped, and why.
NOT_TENANT_SCOPED = {
    # the user pool: anonymous, or the caller's own account
    ("POST", "/v1/auth/signup"),
    ("POST", "/v1/auth/email-code"),
    ("POST", "/v1/auth/confirm"),
    ("POST", "/v1/auth/login"),
    ("POST", "/v1/auth/refresh"),
    ("POST", "/v1/auth/logout"),
    ("POST", "/v1/auth/password/forgot"),
    ("POST", "/v1/auth/password/reset"),
    ("POST", "/v1/auth/password/change"),
    ("GET", "/v1/me"),
    ("PATCH", "/v1/me"),
    ("GET", "/v1/me/identities"),
    ("POST", "/v1/me/identities"),
    # the caller's tenants, before choosing one
    ("GET", "/v1/tenants"),
    ("POST", "/v1/tenants"),
    # public catalog
    ("GET", "/v1/plans"),
    # the invitee is not a member yet
    ("GET", "/v1/invitations/preview"),
    ("POST", "/v1/invitations/accept"),
    ("POST", "/v1/invitations/decline"),
    # self-service registration: anonymous; the registration id is the poller's handle
    ("POST", "/v1/registrations"),
    ("GET", "/v1/registrations/{registration_id}"),
    # authenticated by HubSpot's signature, for no tenant (SPEC §8)
    ("POST", "/v1/webhooks/hubspot"),
    # authenticated by an environment's public client key, from any web page (SPEC §10)
    ("POST", "/v1/collect"),
    # the GraphQL gateway (SPEC §9): one route for every field; the tenant-scoped fields check
    # the token, X-Tenant-ID and the membership per field, through the same authenticator
    # (tests/integration/test_graphql.py). GET (GraphiQL) exists only in development.
    ("POST", "/graphql"),
    # the platform-admin plane: every tenant, for operators (each needs a platform admin)
    ("GET", "/v1/admin/tenants"),
    ("POST", "/v1/admin/tenants"),
    ("GET", "/v1/admin/tenants/{tenant_id}"),
    ("PATCH", "/v1/admin/tenants/{tenant_id}"),
    ("POST", "/v1/admin/tenants/{tenant_id}/disable"),
    ("POST", "/v1/admin/tenants/{tenant_id}/enable"),
    ("GET", "/v1/admin/users"),
    ("POST", "/v1/admin/users/{user_id}/disable"),
    ("POST", "/v1/admin/users/{user_id}/enable"),
    ("GET", "/v1/admin/audit-log"),
    ("GET", "/v1/admin/webhook-endpoints"),
    ("POST", "/v1/admin/webhook-endpoints"),
    ("GET", "/v1/admin/webhook-endpoints/{endpoint_id}"),
    ("DELETE", "/v1/admin/webhook-endpoints/{endpoint_id}"),
    ("GET", "/v1/admin/webhook-endpoints/{endpoint_id}/deliveries"),
    ("POST", "/v1/admin/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/redeliver"),
}


def _resolves(dependant: Dependant, call: object) -> bool:
    return dependant.call is call or any(_resolves(sub, call) for sub in dependant.dependencies)


def _flattened(routes: Sequence[BaseRoute]) -> Iterator[BaseRoute]:
    """FastAPI keeps an included router behind a wrapper; its routes carry the full path."""
    for route in routes:
        included = getattr(route, "original_router", None)
        yield from _flattened(included.routes) if included is not None else (route,)


def api_routes(app: FastAPI) -> Iterator[tuple[str, APIRoute]]:
    for route in _flattened(app.routes):
        if isinstance(route, APIRoute) and (route.path.startswith("/v1/") or route.path == GRAPHQL):
            for method in sorted(route.methods or ()):
                yield method, route


def tenant_scoped(app: FastAPI) -> list[tuple[str, str]]:
    return [
        (method, route.path)
        for method, route in api_routes(app)
        if _resolves(route.dependant, tenant_context)
    ]


def test_every_v1_route_is_tenant_scoped_or_listed(container: Container) -> None:
    app = create_app(container)
    unscoped = {
        (method, route.path)
        for method, route in api_routes(app)
        if not _resolves(route.dependant, tenant_context)
    }
    assert unscoped == NOT_TENANT_SCOPED
    assert len(tenant_scoped(app)) == 52  # SPEC §6, §7, §9, §10 (update when a route is added)


def test_admin_routes_and_only_they_require_a_platform_admin(container: Container) -> None:
    app = create_app(container)
    guarded = {
        (method, route.path)
        for method, route in api_routes(app)
        if _resolves(route.dependant, platform_admin)
    }
    assert guarded == {route for route in NOT_TENANT_SCOPED if route[1].startswith("/v1/admin/")}
    assert guarded


@pytest.mark.catalogue(38)
def test_the_admin_routes_can_be_served_apart(container: Container) -> None:
    public = create_app(container, include_admin=False)
    private = create_app(container, include_public=False)
    assert not any(route.path.startswith("/v1/admin/") for _method, route in api_routes(public))
    assert {route.path for _method, route in api_routes(private)} == {
        path for _method, path in NOT_TENANT_SCOPED if path.startswith("/v1/admin/")
    }
    assert "/healthz" in {getattr(route, "path", None) for route in _flattened(private.routes)}


def concrete(path: str) -> str:
    """The route's path with a random id in every parameter: nothing exists there, and the
    tenant check must answer before that matters."""
    parts = path.split("/")
    return "/".join(str(uuid.uuid4()) if part.startswith("{") else part for part in parts)


@pytest.mark.catalogue(21)
async def test_every_tenant_scoped_route_checks_token_header_and_membership(
    client: httpx.AsyncClient, container: Container, ann: Account, bob: Account
) -> None:
    app = create_app(container)
    for method, path in tenant_scoped(app):

        async def call(
            headers: dict[str, str], method: str = method, path: str = path
        ) -> httpx.Response:
            return await client.request(method, concrete(path), headers=headers, json={})

        assert_problem(await call({"X-Tenant-ID": ann.tenant_id}), 401, "missing_token")
        assert_problem(await call(bearer(ann.access_token)), 400, "tenant_header_required")
        malformed = {**bearer(ann.access_token), "X-Tenant-ID": "not-a-uuid"}
        assert_problem(await call(malformed), 400, "tenant_header_required")
        foreign = await call(ann.headers(bob.tenant_id))
        assert_problem(foreign, 403, "tenant_access_denied")
        unknown = await call(ann.headers(str(uuid.uuid4())))
        assert (unknown.status_code, unknown.content) == (foreign.status_code, foreign.content)


# X-Tenant-ID values ({a}, {b}: two real tenants' ids; {hex}: {a} without its hyphens).
MALFORMED_TENANT_HEADERS = [
    [],
    [""],
    ["   "],
    ["not-a-uuid"],
    ["{a}x"],
    ["{a}", "{a}"],
    ["{a}", "{b}"],
    ["{a},{b}"],
    ["{a}, {a}"],
    ["{a} {b}"],
    ["{a};{b}"],
    ["{{{a}}}"],
    ["urn:uuid:{a}"],
    ["{hex}"],
    ["1-{hex}"],
]


@pytest.mark.catalogue(22)
async def test_a_malformed_tenant_header_is_the_same_400_on_every_route_every_time(
    client: httpx.AsyncClient, container: Container, ann: Account, bob: Account
) -> None:
    ids = {"a": ann.tenant_id, "b": bob.tenant_id, "hex": uuid.UUID(ann.tenant_id).hex}
    answers: dict[tuple[int, str, bytes], list[str]] = {}
    for method, path in [*tenant_scoped(create_app(container))] * 2:  # twice: every time
        for values in MALFORMED_TENANT_HEADERS:
            headers = [("Authorization", f"Bearer {ann.access_token}")]
            headers += [("X-Tenant-ID", value.format(**ids)) for value in values]
            response = await client.request(method, concrete(path), headers=headers, json={})
            answer = (response.status_code, response.headers["content-type"], response.content)
            answers.setdefault(answer, []).append(f"{method} {path} {values}")

    assert len(answers) == 1, {answer: sent[:3] for answer, sent in answers.items()}
    [(status, content_type, _body)] = answers
    assert (status, content_type) == (400, "application/problem+json")
    assert_problem(response, 400, "tenant_header_required")


def admin_routes(app: FastAPI) -> list[tuple[str, str]]:
    return [
        (method, route.path)
        for method, route in api_routes(app)
        if route.path.startswith("/v1/admin/")
    ]


@pytest.mark.catalogue(37)
async def test_a_tenant_owner_is_refused_on_every_admin_route(
    client: httpx.AsyncClient, container: Container, ann: Account, acme: str
) -> None:
    routes = admin_routes(create_app(container))
    assert len(routes) == len({r for r in NOT_TENANT_SCOPED if r[1].startswith("/v1/admin/")})
    for method, path in routes:
        for headers in (bearer(ann.access_token), ann.headers(acme)):
            response = await client.request(method, concrete(path), headers=headers, json={})
            assert_problem(response, 403, "platform_admin_required")
