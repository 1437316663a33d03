"""`POST /graphql` (SPEC §9): every query and mutation answers what the matching REST route
answers, refuses what it refuses (with `extensions.code` and the REST code as `reason`), and
the gateway's own limits: document depth, cost, aliases and tokens, body size, GraphiQL only in
development, never a stack trace."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from graphql import get_introspection_query
from sqlalchemy import update

from tenantry.bootstrap import Container
from tenantry.settings import Settings
from tenantry.storage.epoch import bump_access_epoch
from tenantry.storage.models import Tenant
from tenantry.transports.rest.app import create_app
from tests.support.api import Account, bearer, invite_and_join
from tests.support.mailbox import Mailbox
from tests.support.routes import Org, make_org

pytestmark = pytest.mark.integration

GRAPHQL_CODE = {
    400: "BAD_USER_INPUT",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    422: "BAD_USER_INPUT",
}
ME = """{ me { id email name emailVerified defaultTenantId createdAt
  memberships { role joinedAt tenant { id name kind plan status } } } }"""
TENANT = "{ tenant { id name kind plan status isolation profile features limits createdAt } }"
MEMBER_FIELDS = "role joinedAt user { id email name }"
ENVIRONMENT_FIELDS = "id name slug clientKey snippet createdAt"
PROJECT_FIELDS = f"id name teamIds createdAt environments {{ {ENVIRONMENT_FIELDS} }}"


async def gql(
    client: httpx.AsyncClient,
    query: str,
    headers: dict[str, str] | None = None,
    **variables: Any,
) -> dict[str, Any]:
    """POST `query`; GraphQL answers HTTP 200 with `data` and/or `errors`."""
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers or {}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    return body


def data(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]
    return result


def error(body: dict[str, Any]) -> dict[str, Any]:
    """The one error of `body`, checked to carry no trace of the server's insides."""
    assert len(body["errors"]) == 1, body
    found: dict[str, Any] = body["errors"][0]
    assert "Traceback" not in str(found)
    assert set(found["extensions"]) <= {"code", "reason", "retryAfter"}
    return found


def assert_refused_alike(rest: httpx.Response, body: dict[str, Any], field: str) -> None:
    """GraphQL refused `field` as REST refused the same call: the status as
    `extensions.code`, the problem's `code` as `extensions.reason`, and no data for it."""
    assert rest.status_code in GRAPHQL_CODE, rest.text
    found = error(body)
    assert found["extensions"]["code"] == GRAPHQL_CODE[rest.status_code]
    assert found["extensions"]["reason"] == rest.json()["code"]
    assert found["message"] == rest.json()["detail"]
    assert found["path"] == [field]
    assert body["data"] is None or body["data"][field] is None


def same_time(graphql: str | None, rest: str | None) -> bool:
    """RFC 3339 instants, compared as instants (`Z` and `+00:00` are the same)."""
    assert graphql is not None and rest is not None
    return datetime.fromisoformat(graphql) == datetime.fromisoformat(rest)


def assert_member_like(member: dict[str, Any], rest: dict[str, Any]) -> None:
    assert member["user"]["id"] == rest["user_id"]
    assert member["user"]["email"] == rest["email"]
    assert member["user"]["name"] == rest["name"]
    assert member["role"] == rest["role"].upper()
    assert same_time(member["joinedAt"], rest["joined_at"])


def assert_environment_like(environment: dict[str, Any], rest: dict[str, Any]) -> None:
    for field, rest_field in [
        ("id", "id"),
        ("name", "name"),
        ("slug", "slug"),
        ("clientKey", "client_key"),
        ("snippet", "snippet"),
    ]:
        assert environment[field] == rest[rest_field]
    assert same_time(environment["createdAt"], rest["created_at"])


async def assert_project_like(
    client: httpx.AsyncClient, headers: dict[str, str], project: dict[str, Any]
) -> None:
    rest = await client.get(f"/v1/projects/{project['id']}", headers=headers)
    assert rest.status_code == 200, rest.text
    assert (project["name"], project["teamIds"]) == (rest.json()["name"], rest.json()["team_ids"])
    assert same_time(project["createdAt"], rest.json()["created_at"])
    environments = await client.get(f"/v1/projects/{project['id']}/environments", headers=headers)
    rest_environments = environments.json()["items"]
    assert len(project["environments"]) == len(rest_environments) == 2
    for environment, rest_environment in zip(
        project["environments"], rest_environments, strict=True
    ):
        assert_environment_like(environment, rest_environment)


@pytest.fixture
async def org(client: httpx.AsyncClient, mailbox: Mailbox, container: Container) -> Org:
    return await make_org(client, mailbox, container)


# --- queries, compared with REST ------------------------------------------------------------


async def test_me_is_the_profile_rest_shows(
    client: httpx.AsyncClient, ann: Account, acme: str
) -> None:
    me = data(await gql(client, ME, bearer(ann.access_token)))["me"]
    rest = (await client.get("/v1/me", headers=bearer(ann.access_token))).json()

    for field, rest_field in [
        ("id", "id"),
        ("email", "email"),
        ("name", "name"),
        ("emailVerified", "email_verified"),
        ("defaultTenantId", "default_tenant_id"),
    ]:
        assert me[field] == rest[rest_field]
    assert same_time(me["createdAt"], rest["created_at"])
    assert len(me["memberships"]) == len(rest["memberships"]) == 2
    for membership, rest_membership in zip(me["memberships"], rest["memberships"], strict=True):
        tenant = membership["tenant"]
        assert membership["role"] == rest_membership["role"].upper()
        assert (tenant["id"], tenant["name"], tenant["kind"]) == (
            rest_membership["tenant_id"],
            rest_membership["tenant_name"],
            rest_membership["tenant_kind"],
        )
        assert (tenant["plan"], tenant["status"]) == (
            rest_membership["plan"],
            rest_membership["tenant_status"],
        )
    assert me["memberships"][1]["tenant"]["id"] == acme


async def test_tenant_is_the_tenant_rest_shows(
    client: httpx.AsyncClient, ann: Account, acme: str
) -> None:
    tenant = data(await gql(client, TENANT, ann.headers(acme)))["tenant"]
    rest = (await client.get("/v1/tenant", headers=ann.headers(acme))).json()

    for field in ("id", "name", "kind", "plan", "status", "isolation", "profile"):
        assert tenant[field] == rest[field]
    assert (tenant["features"], tenant["limits"]) == (rest["features"], rest["limits"])
    assert same_time(tenant["createdAt"], rest["created_at"])


async def test_members_and_member_are_the_members_rest_shows(
    client: httpx.AsyncClient, org: Org
) -> None:
    headers = org.headers("viewer")
    query = f"""query ($cursor: String) {{ members(limit: 3, cursor: $cursor) {{
        items {{ {MEMBER_FIELDS} tenant {{ id }} }} nextCursor }} }}"""
    first = data(await gql(client, query, headers))["members"]
    rest = (await client.get("/v1/members", headers=headers)).json()["items"]
    second = data(await gql(client, query, headers, cursor=first["nextCursor"]))["members"]

    items = first["items"] + second["items"]
    assert second["nextCursor"] is None
    assert len(items) == len(rest) == 4
    for member, rest_member in zip(items, rest, strict=True):
        assert_member_like(member, rest_member)
        assert member["tenant"]["id"] == org.tenant_id

    editor = org.members["editor"].user_id
    query = f"query ($id: UUID!) {{ member(userId: $id) {{ {MEMBER_FIELDS} }} }}"
    member = data(await gql(client, query, headers, id=editor))["member"]
    assert_member_like(member, (await client.get(f"/v1/members/{editor}", headers=headers)).json())


async def test_projects_are_the_projects_rest_shows(
    client: httpx.AsyncClient, ann: Account
) -> None:
    query = f"{{ projects {{ items {{ {PROJECT_FIELDS} }} nextCursor }} }}"
    projects = data(await gql(client, query, ann.headers()))["projects"]
    rest = (await client.get("/v1/projects", headers=ann.headers())).json()

    assert projects["nextCursor"] is rest["next_cursor"] is None
    assert [project["id"] for project in projects["items"]] == [p["id"] for p in rest["items"]]
    assert len(projects["items"]) == 1  # "My first project", made at onboarding
    await assert_project_like(client, ann.headers(), projects["items"][0])


async def test_plans_are_the_catalog_rest_shows_without_a_token(
    client: httpx.AsyncClient,
) -> None:
    query = "{ plans { id name selfService isolation monthlyPriceCents features limits } }"
    plans = data(await gql(client, query))["plans"]
    rest = (await client.get("/v1/plans")).json()["items"]

    assert plans == [
        {
            "id": plan["id"],
            "name": plan["name"],
            "selfService": plan["self_service"],
            "isolation": plan["isolation"],
            "monthlyPriceCents": plan["monthly_price_cents"],
            "features": plan["features"],
            "limits": plan["limits"],
        }
        for plan in rest
    ]


async def test_other_members_show_only_the_membership_they_were_reached_through(
    client: httpx.AsyncClient, mailbox: Mailbox, ann: Account, bob: Account, acme: str
) -> None:
    await invite_and_join(client, mailbox, ann, bob, acme, "viewer")
    query = "{ tenant { members { user { email memberships { role tenant { id } } } } } }"

    members = data(await gql(client, query, bob.headers(acme)))["tenant"]["members"]

    # Ann's personal workspace, where Bob is no member, stays hidden from him.
    assert members == [
        {"user": {"email": ann.email, "memberships": [{"role": "OWNER", "tenant": {"id": acme}}]}},
        {"user": {"email": bob.email, "memberships": [{"role": "VIEWER", "tenant": {"id": acme}}]}},
    ]
    query = "{ me { memberships { tenant { id members { user { email } } } } } }"
    memberships = data(await gql(client, query, bearer(bob.access_token)))["me"]["memberships"]
    assert [m["tenant"] for m in memberships] == [
        {"id": bob.tenant_id, "members": [{"user": {"email": bob.email}}]},
        {"id": acme, "members": [{"user": {"email": ann.email}}, {"user": {"email": bob.email}}]},
    ]


# --- mutations, compared with REST ----------------------------------------------------------


async def test_update_me_changes_what_rest_shows(
    client: httpx.AsyncClient, ann: Account, acme: str
) -> None:
    query = """mutation ($name: String, $tenant: UUID) {
        updateMe(name: $name, defaultTenantId: $tenant) { name defaultTenantId } }"""

    updated = data(await gql(client, query, bearer(ann.access_token), name="Ann B", tenant=acme))

    assert updated["updateMe"] == {"name": "Ann B", "defaultTenantId": acme}
    rest = (await client.get("/v1/me", headers=bearer(ann.access_token))).json()
    assert (rest["name"], rest["default_tenant_id"]) == ("Ann B", acme)


async def test_update_me_refuses_what_rest_refuses(
    client: httpx.AsyncClient, ann: Account, bob: Account
) -> None:
    query = """mutation ($name: String, $tenant: UUID) {
        updateMe(name: $name, defaultTenantId: $tenant) { name } }"""
    headers = bearer(ann.access_token)

    body = await gql(client, query, headers, tenant=bob.tenant_id)
    rest = await client.patch("/v1/me", headers=headers, json={"default_tenant_id": bob.tenant_id})
    assert_refused_alike(rest, body, "updateMe")

    body = await gql(client, query, headers, name="")
    rest = await client.patch("/v1/me", headers=headers, json={"name": ""})
    assert rest.status_code == 422
    found = error(body)
    assert found["extensions"] == {"code": "BAD_USER_INPUT", "reason": "validation_error"}
    assert found["message"].startswith("The input is not valid: name:")


async def test_create_project_makes_what_rest_shows(client: httpx.AsyncClient, org: Org) -> None:
    query = f"mutation ($name: String!) {{ createProject(name: $name) {{ {PROJECT_FIELDS} }} }}"
    headers = org.headers("editor")

    project = data(await gql(client, query, headers, name="  Shop  "))["createProject"]

    assert project["name"] == "Shop"  # trimmed like REST's
    await assert_project_like(client, headers, project)


async def test_create_invitation_issues_what_rest_lists(
    client: httpx.AsyncClient, mailbox: Mailbox, org: Org
) -> None:
    query = """mutation ($email: String!) { createInvitation(email: $email, role: EDITOR,
        expiresIn: 3600) { id email role status expiresAt createdAt acceptUrl } }"""
    headers = org.headers("admin")

    issued = data(await gql(client, query, headers, email="dan@EXAMPLE.com"))["createInvitation"]

    assert issued["email"] == "dan@example.com"  # normalized like REST's
    assert (issued["role"], issued["status"]) == ("EDITOR", "pending")
    assert issued["acceptUrl"].startswith("http://testserver/invite?token=")
    listed = (await client.get("/v1/invitations", headers=headers)).json()["items"]
    assert [(i["id"], i["email"], i["role"]) for i in listed] == [
        (issued["id"], "dan@example.com", "editor")
    ]
    assert same_time(issued["expiresAt"], listed[0]["expires_at"])
    await mailbox.wait_for("dan@example.com")


async def test_role_changes_and_evictions_apply_as_on_rest(
    client: httpx.AsyncClient, org: Org
) -> None:
    change = """mutation ($id: UUID!) { updateMemberRole(userId: $id, role: ADMIN) {
        role user { id } tenant { id } } }"""
    remove = "mutation ($id: UUID!) { removeMember(userId: $id) }"
    viewer = org.members["viewer"]
    owner = org.headers("owner")

    changed = data(await gql(client, change, owner, id=viewer.user_id))["updateMemberRole"]
    assert changed == {
        "role": "ADMIN",
        "user": {"id": viewer.user_id},
        "tenant": {"id": org.tenant_id},
    }
    rest = (await client.get(f"/v1/members/{viewer.user_id}", headers=owner)).json()
    assert rest["role"] == "admin"

    assert data(await gql(client, remove, owner, id=viewer.user_id)) == {"removeMember": True}

    # Evicted: the very next request is refused, on GraphQL as on REST.
    body = await gql(client, TENANT, viewer.headers(org.tenant_id))
    assert_refused_alike(
        await client.get("/v1/tenant", headers=viewer.headers(org.tenant_id)), body, "tenant"
    )
    assert error(body)["extensions"]["reason"] == "tenant_access_denied"


# --- refusals, compared with REST -----------------------------------------------------------


async def test_no_token_is_unauthenticated(client: httpx.AsyncClient, ann: Account) -> None:
    body = await gql(client, "{ me { id } }")
    assert_refused_alike(await client.get("/v1/me"), body, "me")
    assert error(body)["extensions"] == {"code": "UNAUTHENTICATED", "reason": "missing_token"}

    body = await gql(client, "{ tenant { id } }", {"X-Tenant-ID": ann.tenant_id})
    assert_refused_alike(
        await client.get("/v1/tenant", headers={"X-Tenant-ID": ann.tenant_id}), body, "tenant"
    )
    garbage = bearer("not-a-token")
    body = await gql(client, "{ me { id } }", garbage)
    assert_refused_alike(await client.get("/v1/me", headers=garbage), body, "me")


async def test_another_or_unknown_tenant_is_forbidden(
    client: httpx.AsyncClient, ann: Account, bob: Account
) -> None:
    for tenant_id in (bob.tenant_id, str(uuid.uuid4())):
        headers = ann.headers(tenant_id)
        for field, path in [("tenant", "/v1/tenant"), ("members", "/v1/members")]:
            body = await gql(client, f"{{ {field} {{ __typename }} }}", headers)
            assert_refused_alike(await client.get(path, headers=headers), body, field)
            assert error(body)["extensions"]["reason"] == "tenant_access_denied"


@pytest.mark.parametrize("header", [None, "not-a-uuid"], ids=["missing", "malformed"])
async def test_tenant_fields_need_the_tenant_header(
    client: httpx.AsyncClient, ann: Account, header: str | None
) -> None:
    headers = bearer(ann.access_token) | ({"X-Tenant-ID": header} if header else {})
    for field, path in [("tenant", "/v1/tenant"), ("projects", "/v1/projects")]:
        body = await gql(client, f"{{ {field} {{ __typename }} }}", headers)
        assert_refused_alike(await client.get(path, headers=headers), body, field)
        assert error(body)["extensions"] == {
            "code": "BAD_USER_INPUT",
            "reason": "tenant_header_required",
        }
    # The fields that are not tenant-scoped answer beside the refused one.
    body = await gql(client, "{ me { id } plans { id } tenant { id } }", headers)
    assert body["data"]["me"] == {"id": ann.user_id}
    assert body["data"]["plans"]
    assert body["data"]["tenant"] is None


async def test_a_viewer_cannot_write(client: httpx.AsyncClient, org: Org) -> None:
    headers = org.headers("viewer")
    editor = org.members["editor"].user_id
    invitation = {"email": "x@example.com", "role": "viewer"}
    calls = [
        (
            'mutation { createProject(name: "X") { id } }',
            ("POST", "/v1/projects", {"name": "X"}),
        ),
        (
            'mutation { createInvitation(email: "x@example.com", role: VIEWER) { id } }',
            ("POST", "/v1/invitations", invitation),
        ),
        (
            f'mutation {{ updateMemberRole(userId: "{editor}", role: VIEWER) {{ role }} }}',
            ("PATCH", f"/v1/members/{editor}", {"role": "viewer"}),
        ),
    ]
    for query, (method, path, rest_body) in calls:
        body = await gql(client, query, headers)
        rest = await client.request(method, path, headers=headers, json=rest_body)
        field = query.split()[2].partition("(")[0]
        assert_refused_alike(rest, body, field)
        assert error(body)["extensions"] == {"code": "FORBIDDEN", "reason": "insufficient_role"}


async def test_the_last_owner_cannot_be_removed(
    client: httpx.AsyncClient, ann: Account, acme: str
) -> None:
    query = f'mutation {{ removeMember(userId: "{ann.user_id}") }}'

    body = await gql(client, query, ann.headers(acme))

    rest = await client.delete(f"/v1/members/{ann.user_id}", headers=ann.headers(acme))
    assert_refused_alike(rest, body, "removeMember")
    assert error(body)["extensions"] == {"code": "CONFLICT", "reason": "last_owner"}


async def test_a_member_of_another_tenant_is_not_found(
    client: httpx.AsyncClient, ann: Account, bob: Account, acme: str
) -> None:
    for user_id in (bob.user_id, str(uuid.uuid4())):
        body = await gql(client, f'{{ member(userId: "{user_id}") {{ role }} }}', ann.headers(acme))
        rest = await client.get(f"/v1/members/{user_id}", headers=ann.headers(acme))
        assert_refused_alike(rest, body, "member")
        assert error(body)["extensions"] == {"code": "NOT_FOUND", "reason": "member_not_found"}


async def test_a_tenant_field_checks_the_membership_wherever_it_is_reached(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    container: Container,
    ann: Account,
    bob: Account,
    acme: str,
) -> None:
    """Reached through `me`, a disabled tenant still shows what `/v1/me` shows, but its
    members and settings are refused as `X-Tenant-ID` naming it would be."""
    await invite_and_join(client, mailbox, ann, bob, acme, "viewer")
    async with container.db.transaction() as session:
        await session.execute(
            update(Tenant).where(Tenant.id == uuid.UUID(acme)).values(status="disabled")
        )
        await bump_access_epoch(session)
    query = "{ me { memberships { tenant { id status isolation members { role } } } } }"

    body = await gql(client, query, bearer(bob.access_token))

    personal, disabled = body["data"]["me"]["memberships"]
    assert personal["tenant"]["members"] == [{"role": "OWNER"}]
    assert disabled["tenant"] == {
        "id": acme,
        "status": "disabled",
        "isolation": None,
        "members": None,
    }
    rest = await client.get("/v1/tenant", headers=bob.headers(acme))
    assert rest.json()["code"] == "tenant_disabled"
    assert sorted(tuple(e["path"]) for e in body["errors"]) == [
        ("me", "memberships", 1, "tenant", "isolation"),
        ("me", "memberships", 1, "tenant", "members"),
    ]
    assert {e["extensions"]["reason"] for e in body["errors"]} == {"tenant_disabled"}


# --- limits and malformed requests ----------------------------------------------------------


async def test_too_deep_a_query_is_refused(client: httpx.AsyncClient, ann: Account) -> None:
    query = """{ me { memberships { tenant { members(limit: 1) { user { memberships { tenant {
        members(limit: 1) { user { id } } } } } } } } } }"""

    body = await gql(client, query, bearer(ann.access_token))

    assert body.get("data") is None
    assert {found["extensions"]["code"] for found in body["errors"]} == {
        "GRAPHQL_VALIDATION_FAILED"
    }
    assert "'anonymous' exceeds maximum operation depth of 8" in [
        found["message"] for found in body["errors"]
    ]


async def test_a_fan_out_within_the_depth_is_refused_by_its_cost(
    client: httpx.AsyncClient, ann: Account
) -> None:
    query = """{ members(limit: 200) { items { user { memberships { tenant {
        members(limit: 200) { user { id } } } } } } } }"""

    body = await gql(client, query, ann.headers())

    assert body.get("data") is None
    found = error(body)
    assert found["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert "over the limit of 10000" in found["message"]


async def test_alias_and_token_bombs_are_refused(client: httpx.AsyncClient) -> None:
    aliases = "{ " + " ".join(f"p{n}: plans {{ id }}" for n in range(16)) + " }"
    body = await gql(client, aliases)
    assert error(body)["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert "16 aliases found. Allowed: 15" in error(body)["message"]

    tokens = "{ plans { " + "id " * 2_500 + "} }"
    body = await gql(client, tokens)
    assert error(body)["extensions"] == {"code": "GRAPHQL_PARSE_FAILED"}
    assert body.get("data") is None


async def test_introspection_fits_the_limits(client: httpx.AsyncClient) -> None:
    schema = data(await gql(client, get_introspection_query()))["__schema"]
    assert {"Query", "Mutation", "Tenant", "Membership"} <= {t["name"] for t in schema["types"]}


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ("{ me { id ", {}, "GRAPHQL_PARSE_FAILED"),
        ("{ nope }", {}, "GRAPHQL_VALIDATION_FAILED"),
        ('{ member(userId: "not-a-uuid") { role } }', {}, "GRAPHQL_VALIDATION_FAILED"),
        ("query ($id: UUID!) { member(userId: $id) { role } }", {"id": "x"}, "BAD_USER_INPUT"),
        ("query ($id: UUID!) { member(userId: $id) { role } }", {}, "BAD_USER_INPUT"),
        ("{ members(limit: 0) { nextCursor } }", {}, "BAD_USER_INPUT"),
    ],
)
async def test_a_malformed_query_is_a_graphql_error(
    client: httpx.AsyncClient,
    ann: Account,
    query: str,
    variables: dict[str, Any],
    code: str,
) -> None:
    body = await gql(client, query, ann.headers(), **variables)
    assert error(body)["extensions"]["code"] == code


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "malformed_request"),
        (b'{"variables": {}}', "application/json", 400, "malformed_request"),
        (b"query=%7B%7D", "application/x-www-form-urlencoded", 400, "malformed_request"),
        (b'[{"query": "{ plans { id } }"}]', "application/json", 400, "malformed_request"),
        (b" " * (64 * 1024 + 1), "application/json", 413, "payload_too_large"),
    ],
    ids=["not-json", "no-query", "form", "batch", "too-large"],
)
async def test_a_bad_request_is_a_problem(
    client: httpx.AsyncClient, content: bytes, content_type: str, status: int, code: str
) -> None:
    response = await client.post(
        "/graphql", content=content, headers={"Content-Type": content_type}
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code


async def test_a_body_too_large_is_refused_without_content_length(
    client: httpx.AsyncClient,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(65):
            yield b" " * 1024

    response = await client.post(
        "/graphql", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


async def test_an_unexpected_error_is_masked(
    client: httpx.AsyncClient, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise RuntimeError("secret internals at /srv/tenantry")

    monkeypatch.setattr(container.plans, "all", broken)

    body = await gql(client, "{ plans { id } }")

    assert body["data"] is None
    assert error(body) == {
        "message": "Something went wrong on our side.",
        "locations": [{"line": 1, "column": 3}],
        "path": ["plans"],
        "extensions": {"code": "INTERNAL_SERVER_ERROR"},
    }


# --- GraphiQL -------------------------------------------------------------------------------


async def test_graphiql_is_served_only_when_enabled(container: Container) -> None:
    accept_html = {"Accept": "text/html"}
    for enabled in (False, True):
        container.settings.graphiql = enabled
        transport = httpx.ASGITransport(app=create_app(container))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await client.get("/graphql", headers=accept_html)
        if enabled:
            assert response.status_code == 200
            assert "graphiql" in response.text.lower()
        else:
            assert response.status_code == 405
            assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("public_url", "configured", "enabled"),
    [
        ("http://localhost:8000", None, True),
        ("http://127.0.0.1:8000", None, True),
        ("https://accounts.example.com", None, False),
        ("https://accounts.example.com", "true", True),
        ("http://localhost:8000", "false", False),
    ],
)
def test_graphiql_defaults_to_development_only(
    monkeypatch: pytest.MonkeyPatch, public_url: str, configured: str | None, enabled: bool
) -> None:
    monkeypatch.setenv("TENANTRY_PUBLIC_URL", public_url)
    if configured is None:
        monkeypatch.delenv("TENANTRY_GRAPHIQL", raising=False)
    else:
        monkeypatch.setenv("TENANTRY_GRAPHIQL", configured)
    assert Settings(_env_file=None).graphiql is enabled


async def test_a_token_is_checked_on_every_request(client: httpx.AsyncClient, ann: Account) -> None:
    """Nothing outlives its request: once the session ends, the same token is refused."""
    assert data(await gql(client, "{ me { id } }", bearer(ann.access_token)))
    response = await client.post("/v1/auth/logout", json={"refresh_token": ann.refresh_token})
    assert response.status_code == 204

    body = await gql(client, "{ me { id } }", bearer(ann.access_token))

    assert error(body)["extensions"] == {"code": "UNAUTHENTICATED", "reason": "token_revoked"}
