"""`/v1/me`, `/v1/tenants` and the read side of projects, with the tenant check of SPEC §3."""

from __future__ import annotations

import uuid

import httpx
import jwt
import pytest

from tests.support.api import Account, bearer

pytestmark = pytest.mark.integration


async def test_me_requires_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/me")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "missing_token"


async def test_update_me_renames_and_ignores_unknown_fields(
    client: httpx.AsyncClient, ann: Account
) -> None:
    response = await client.patch(
        "/v1/me",
        headers=bearer(ann.access_token),
        json={"name": "Ann Lee", "id": str(uuid.uuid4()), "is_admin": True, "email": "x@y.z"},
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["id"], body["email"]) == ("Ann Lee", ann.user_id, ann.email)


async def test_default_tenant_persists_and_becomes_the_token_claim(
    client: httpx.AsyncClient, ann: Account
) -> None:
    created = await client.post(
        "/v1/tenants", headers=bearer(ann.access_token), json={"name": "Acme"}
    )
    assert created.status_code == 201
    acme = created.json()
    assert (acme["kind"], acme["role"], acme["plan"]) == ("organization", "owner", "free")

    chosen = await client.patch(
        "/v1/me", headers=bearer(ann.access_token), json={"default_tenant_id": acme["id"]}
    )
    assert chosen.json()["default_tenant_id"] == acme["id"]

    login = await client.post("/v1/auth/login", json={"email": ann.email, "password": ann.password})
    token = login.json()["access_token"]
    me = (await client.get("/v1/me", headers=bearer(token))).json()
    assert me["default_tenant_id"] == acme["id"]
    assert jwt.decode(token, options={"verify_signature": False})["tenant"] == acme["id"]


async def test_default_tenant_must_be_one_of_mine(
    client: httpx.AsyncClient, ann: Account, bob: Account
) -> None:
    for tenant in (bob.tenant_id, str(uuid.uuid4())):
        response = await client.patch(
            "/v1/me", headers=bearer(ann.access_token), json={"default_tenant_id": tenant}
        )
        assert response.status_code == 403
        assert response.json()["code"] == "tenant_access_denied"


async def test_tenants_lists_only_mine(
    client: httpx.AsyncClient, ann: Account, bob: Account
) -> None:
    await client.post("/v1/tenants", headers=bearer(ann.access_token), json={"name": "Acme"})
    listed = (await client.get("/v1/tenants", headers=bearer(ann.access_token))).json()
    assert {item["name"] for item in listed["items"]} == {"Ann's workspace", "Acme"}
    assert listed["next_cursor"] is None
    assert bob.tenant_id not in {item["id"] for item in listed["items"]}


@pytest.mark.parametrize("name", ["", "   ", "\t", "x" * 201, "line\nbreak"])
async def test_tenant_name_is_validated(client: httpx.AsyncClient, ann: Account, name: str) -> None:
    response = await client.post(
        "/v1/tenants", headers=bearer(ann.access_token), json={"name": name}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    renamed = await client.patch("/v1/tenant", headers=ann.headers(), json={"name": name})
    assert (renamed.status_code, renamed.json()["code"]) == (422, "validation_error")


async def test_tenant_names_are_trimmed(client: httpx.AsyncClient, ann: Account) -> None:
    response = await client.post(
        "/v1/tenants", headers=bearer(ann.access_token), json={"name": "  Acme  "}
    )
    assert response.json()["name"] == "Acme"


@pytest.mark.parametrize(
    "header_values",
    [[], [""], ["not-a-uuid"], ["1234"], ["{a},{b}"], ["{a}", "{a}"], ["{a}, {b}"]],
)
async def test_malformed_tenant_header_is_the_same_400(
    client: httpx.AsyncClient, ann: Account, bob: Account, header_values: list[str]
) -> None:
    headers = [("Authorization", f"Bearer {ann.access_token}")]
    for value in header_values:
        headers.append(("X-Tenant-ID", value.format(a=ann.tenant_id, b=bob.tenant_id)))
    response = await client.get("/v1/projects", headers=headers)
    assert response.status_code == 400
    assert response.json()["code"] == "tenant_header_required"


@pytest.mark.catalogue(21)
async def test_foreign_and_unknown_tenants_get_the_same_403(
    client: httpx.AsyncClient, ann: Account, bob: Account
) -> None:
    foreign = await client.get("/v1/projects", headers=ann.headers(bob.tenant_id))
    unknown = await client.get("/v1/projects", headers=ann.headers(str(uuid.uuid4())))
    assert foreign.status_code == unknown.status_code == 403
    assert foreign.json() == unknown.json()
    assert foreign.json()["code"] == "tenant_access_denied"


async def test_tenant_routes_need_a_token(client: httpx.AsyncClient, ann: Account) -> None:
    response = await client.get("/v1/projects", headers={"X-Tenant-ID": ann.tenant_id})
    assert response.status_code == 401


async def test_another_tenants_project_is_404(
    client: httpx.AsyncClient, ann: Account, bob: Account
) -> None:
    bobs = (await client.get("/v1/projects", headers=bob.headers())).json()["items"][0]["id"]
    response = await client.get(f"/v1/projects/{bobs}/environments", headers=ann.headers())
    assert response.status_code == 404
    assert response.json()["code"] == "project_not_found"


async def test_projects_paginate_with_a_cursor(client: httpx.AsyncClient, ann: Account) -> None:
    first = (await client.get("/v1/projects?limit=1", headers=ann.headers())).json()
    assert len(first["items"]) == 1
    assert first["next_cursor"] is None
    project = first["items"][0]["id"]
    page = (
        await client.get(f"/v1/projects/{project}/environments?limit=1", headers=ann.headers())
    ).json()
    rest = (
        await client.get(
            f"/v1/projects/{project}/environments?limit=1&cursor={page['next_cursor']}",
            headers=ann.headers(),
        )
    ).json()
    assert page["next_cursor"] is not None
    assert rest["next_cursor"] is None
    assert {page["items"][0]["slug"], rest["items"][0]["slug"]} == {"development", "production"}


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "cursor=%%%", "limit=abc"])
async def test_bad_list_parameters_are_client_errors(
    client: httpx.AsyncClient, ann: Account, query: str
) -> None:
    response = await client.get(f"/v1/projects?{query}", headers=ann.headers())
    assert response.status_code in (400, 422)
    assert "code" in response.json()
