"""Names posted through web forms follow the API's rules (issue 18 item 10): control
characters, ANSI escapes and line breaks that REST refuses with 422 are refused by every form
that takes a name, with the page shown again and its message, and nothing is stored. No
browser; both databases."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.test_web_sessions import web_sign_in
from tests.support.api import Account, bearer

pytestmark = pytest.mark.integration
BAD_NAMES = ["\x1b[31mRed", "Two\r\nLines", "Bell\x07", "C1\x9b", "Tab\there", "   "]
# NUL never reaches a form: the guard of docs/security.md "Text that PostgreSQL cannot store"
# refuses it in any request first.


async def post_form(
    client: httpx.AsyncClient, csrf: str, path: str, **fields: str
) -> httpx.Response:
    return await client.post(path, data={"csrf_token": csrf, **fields})


def assert_refused(response: httpx.Response, message: str) -> None:
    assert response.status_code == 422, response.text
    assert message in response.text
    assert "without control characters" in response.text


async def read(client: httpx.AsyncClient, account: Account, path: str, tenant: str) -> object:
    response = await client.get(path, headers=account.headers(tenant))
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("bad", BAD_NAMES)
async def test_account_and_organization_names_are_refused_like_the_api(
    client: httpx.AsyncClient, ann: Account, acme: str, bad: str
) -> None:
    csrf = await web_sign_in(client, ann)
    api = await client.patch("/v1/me", headers=bearer(ann.access_token), json={"name": bad})
    assert api.status_code == 422, api.text
    before = (await client.get("/v1/me", headers=bearer(ann.access_token))).json()

    renamed = await post_form(client, csrf, "/app/account/name", name=bad)
    assert_refused(renamed, "Enter a name of 1 to 200 characters")
    created = await post_form(client, csrf, "/app/organizations", name=bad)
    assert_refused(created, "Enter a name of 1 to 200 characters")

    after = (await client.get("/v1/me", headers=bearer(ann.access_token))).json()
    assert after == before  # same name, same memberships: no organization was made


@pytest.mark.parametrize("bad", BAD_NAMES)
async def test_project_environment_team_and_wizard_names_are_refused(
    client: httpx.AsyncClient, ann: Account, acme: str, bad: str
) -> None:
    csrf = await web_sign_in(client, ann)
    base = f"/app/t/{acme}"
    made = await post_form(client, csrf, f"{base}/projects", name="Website")
    assert made.status_code == 303, made.text
    project = made.headers["location"].split("/projects/")[1].split("?")[0]
    team = await post_form(client, csrf, f"{base}/teams", name="Core")
    assert team.status_code == 303, team.text
    team_id = team.headers["location"].split("/teams/")[1].split("?")[0]
    before = [
        await read(client, ann, path, acme)
        for path in ("/v1/projects", f"/v1/projects/{project}/environments", "/v1/teams")
    ]

    for path, message in [
        (f"{base}/projects", "Enter a project name"),
        (f"{base}/projects/{project}/rename", "Enter a project name"),
        (f"{base}/projects/{project}/environments", "Enter an environment name"),
        (f"{base}/teams", "Enter a team name"),
        (f"{base}/teams/{team_id}/rename", "Enter a team name"),
        (f"{base}/onboarding/project", "Enter a project name"),
    ]:
        assert_refused(await post_form(client, csrf, path, name=bad), message)
    experiment = await post_form(
        client, csrf, f"{base}/onboarding/experiment", name=bad, project_id=project
    )
    assert_refused(experiment, "Enter an experiment name")

    after = [
        await read(client, ann, path, acme)
        for path in ("/v1/projects", f"/v1/projects/{project}/environments", "/v1/teams")
    ]
    assert after == before
    experiments = await read(client, ann, f"/v1/projects/{project}/experiments", acme)
    assert experiments == {"items": [], "next_cursor": None}


async def test_company_details_and_console_names_are_refused(
    client: httpx.AsyncClient, ann: Account, acme: str, operator: Account
) -> None:
    csrf = await web_sign_in(client, ann)
    company = await post_form(
        client, csrf, f"/app/t/{acme}/onboarding/company", company_name="\x1b[31mAcme"
    )
    assert company.status_code == 422, company.text
    assert "Company name: enter 1 to 200 characters, without control characters." in company.text
    tenant = await read(client, ann, "/v1/tenant", acme)
    assert isinstance(tenant, dict) and "company_name" not in (tenant.get("profile") or {})

    client.cookies.clear()  # Ann leaves; the operator signs in on the same client
    console_csrf = await web_sign_in(client, operator)
    for fields in (
        {"name": "Evil\x1b[2J", "owner_email": "owner@example.com"},
        {"name": "Fine", "owner_email": "owner@example.com", "owner_name": "Line\nBreak"},
    ):
        created = await post_form(client, console_csrf, "/admin/tenants/new", plan="free", **fields)
        assert_refused(created, "Enter a name of 1 to 200 characters")
    listed = await client.get(
        "/v1/admin/tenants", headers=bearer(operator.access_token), params={"limit": 200}
    )
    assert listed.status_code == 200, listed.text
    assert "Fine" not in {item["name"] for item in listed.json()["items"]}
    assert not any("\x1b" in item["name"] for item in listed.json()["items"])
