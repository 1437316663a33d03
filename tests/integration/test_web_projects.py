"""Projects, environments and new organizations in headless Debian chromium against a real
server (SPEC §6, §11): an owner creates an organization and lands on it, creates a project,
copies an environment's snippet, rotates its key (the old key stops collecting), adds an
environment, hits the plan's project limit and deletes a project; a viewer reads but cannot
change anything, even with a forged post; CSRF-less posts are refused. Screenshots go to
docs/screenshots/."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tenantry.settings import Settings
from tests.integration.test_web_admin import OPERATOR, OPERATOR_PASSWORD, make_operator
from tests.support.api import create_organization, invite_and_join, register, sign_in
from tests.support.browser import chromium, password_sign_in, screenshot, session_cookie
from tests.support.mailbox import Mailbox
from tests.support.plans import override_features
from tests.support.server import running_server

pytestmark = pytest.mark.integration
SESSION = "tenantry_session"
PLAN_LIMIT = "The free plan allows 3 projects; upgrade the plan to add more."


async def environments(api: httpx.AsyncClient, headers: dict[str, str], project: str) -> Any:
    listed = await api.get(f"/v1/projects/{project}/environments", headers=headers)
    assert listed.status_code == 200, listed.text
    return {env["slug"]: env for env in listed.json()["items"]}


async def collect(api: httpx.AsyncClient, key: str) -> int:
    sent = await api.post("/v1/collect", json={"type": "click"}, headers={"X-Client-Key": key})
    return sent.status_code


async def create_project_on_page(page: Any, name: str) -> None:
    await page.get_by_label("Project name").fill(name)
    await page.get_by_role("button", name="Create project").click()


async def test_new_organization_projects_and_key_rotation(
    settings: Settings, mailbox: Mailbox
) -> None:
    with running_server(settings) as base:
        async with httpx.AsyncClient(base_url=base) as api:
            owner = await register(api, mailbox, "olga@example.com", name="Olga")
            async with chromium() as browser:
                context = await browser.new_context()
                await context.grant_permissions(["clipboard-read", "clipboard-write"])
                page = await context.new_page()
                await password_sign_in(page, base, owner.email, owner.password)
                await page.get_by_role("link", name="New organization").click()
                await page.wait_for_url(f"{base}/app/organizations/new")
                await screenshot(page, "organization-new")
                await page.get_by_label("Organization name").fill("Olga Corp")
                await page.get_by_role("button", name="Create organization").click()
                await page.wait_for_url(
                    re.compile(r".*/app/t/[0-9a-f-]+\?notice=organization_created$")
                )
                org = page.url.split("/app/t/")[1].split("?")[0]
                assert await page.get_by_role("heading", level=1).inner_text() == "Olga Corp"
                await page.get_by_text("The organization is created. You are its owner.").wait_for()
                me = (await api.get("/v1/me", headers=owner.headers())).json()
                assert me["default_tenant_id"] == org
                roles = {m["tenant_id"]: (m["role"], m["plan"]) for m in me["memberships"]}
                assert roles[org] == ("owner", "free")
                assert await page.get_by_label("Tenant").input_value() == org

                await page.get_by_role("link", name="Projects").click()
                await page.wait_for_url(f"{base}/app/t/{org}/projects")
                await page.get_by_text("No projects yet.").wait_for()
                await create_project_on_page(page, "Website")
                await page.get_by_text("The project is created.").wait_for()
                assert await page.get_by_role("heading", level=1).inner_text() == "Website"
                project = page.url.split("/projects/")[1].split("?")[0]
                headers = owner.headers(org)
                before = await environments(api, headers, project)
                assert set(before) == {"development", "production"}
                development = before["development"]
                snippet = page.locator(f"#snippet-{development['id']}")
                assert await snippet.inner_text() == development["snippet"]
                assert development["client_key"] in development["snippet"]
                assert await page.locator("pre > code").count() == 2
                copy = page.get_by_role("button", name="Copy the snippet of Development")
                await copy.click()
                await copy.filter(has_text="Copied").wait_for(timeout=5000)
                clipboard = await page.evaluate("navigator.clipboard.readText()")
                assert clipboard == development["snippet"]
                await screenshot(page, "project")

                assert await collect(api, development["client_key"]) == 202
                await page.get_by_role("button", name="Rotate the key of Development").click()
                await page.get_by_text("The client key is replaced.").wait_for()
                after = await environments(api, headers, project)
                new_key = after["development"]["client_key"]
                assert new_key != development["client_key"]
                assert after["production"]["client_key"] == before["production"]["client_key"]
                assert await page.locator(f"#key-{development['id']}").inner_text() == new_key
                assert await collect(api, development["client_key"]) == 401
                assert await collect(api, new_key) == 202

                await page.get_by_label("Environment name").fill("Staging EU")
                await page.get_by_role("button", name="Add environment").click()
                await page.get_by_text("The environment is added.").wait_for()
                assert "staging-eu" in await environments(api, headers, project)
                await page.get_by_role("button", name="Delete the environment Staging EU").click()
                await page.get_by_text("The environment is deleted.").wait_for()
                assert "staging-eu" not in await environments(api, headers, project)
                await page.get_by_label("Project name").fill("Website 2")
                await page.get_by_role("button", name="Rename").click()
                await page.get_by_text("The project is renamed.").wait_for()
                assert await page.get_by_role("heading", level=1).inner_text() == "Website 2"

                await page.get_by_role("link", name="All projects").click()
                for name in ("Shop", "Blog"):
                    await create_project_on_page(page, name)
                    await page.get_by_text("The project is created.").wait_for()
                    await page.get_by_role("link", name="All projects").click()
                await create_project_on_page(page, "One too many")
                await page.get_by_role("alert").get_by_text(PLAN_LIMIT).wait_for()
                await screenshot(page, "projects-plan-limit")
                listed = (await api.get("/v1/projects", headers=headers)).json()["items"]
                assert sorted(p["name"] for p in listed) == ["Blog", "Shop", "Website 2"]
                await page.goto(f"{base}/app/t/{org}/projects")
                await screenshot(page, "projects")

                await page.get_by_role("link", name="Website 2").click()
                await page.get_by_role("button", name="Delete project").click()
                assert await page.get_by_role("heading", level=1).inner_text() == "Website 2"
                await page.get_by_label(re.compile("I understand")).check()
                await page.get_by_role("button", name="Delete project").click()
                await page.get_by_text("The project is deleted.").wait_for()
                gone = await api.get(f"/v1/projects/{project}", headers=headers)
                assert gone.status_code == 404
                assert await collect(api, new_key) == 401


async def test_viewer_reads_only_and_forged_posts_are_refused(
    settings: Settings, mailbox: Mailbox
) -> None:
    with running_server(settings) as base:
        async with httpx.AsyncClient(base_url=base) as api:
            owner = await register(api, mailbox, "olga@example.com", name="Olga")
            viewer = await register(api, mailbox, "vic@example.com", name="Vic")
            org = await create_organization(api, owner, "Olga Corp")
            await invite_and_join(api, mailbox, owner, viewer, org, "viewer")
            created = await api.post(
                "/v1/projects", headers=owner.headers(org), json={"name": "Website"}
            )
            assert created.status_code == 201, created.text
            project = created.json()["id"]
            envs = await environments(api, owner.headers(org), project)
            development = envs["development"]
            async with chromium() as browser:
                context = await browser.new_context()
                page = await context.new_page()
                await password_sign_in(page, base, viewer.email, viewer.password)
                await page.goto(f"{base}/app/t/{org}/projects")
                await page.get_by_role("link", name="Website").wait_for()
                assert not await page.get_by_role("button", name="Create project").count()
                await screenshot(page, "projects-viewer")
                await page.get_by_role("link", name="Website").click()
                await page.locator(f"#snippet-{development['id']}").wait_for()
                assert development["client_key"] in await page.locator("main").inner_text()
                for button in ("Rotate the key of Development", "Add environment", "Rename"):
                    assert not await page.get_by_role("button", name=button).count(), button
                csrf = await page.locator("input[name=csrf_token]").first.input_value()
                cookie = await session_cookie(context)
                assert cookie is not None
                await forged_posts(base, cookie["value"], csrf, org, project, development)
            after = await environments(api, owner.headers(org), project)
            assert after["development"]["client_key"] == development["client_key"]
            listed = (await api.get("/v1/projects", headers=owner.headers(org))).json()
            assert [p["name"] for p in listed["items"]] == ["Website"]


async def forged_posts(
    base: str, cookie: str, csrf: str, org: str, project: str, env: dict[str, Any]
) -> None:
    """A viewer's valid-token posts get the domain's 403; token-less posts are refused."""
    rotate = f"/app/t/{org}/projects/{project}/environments/{env['id']}/rotate-key"
    async with httpx.AsyncClient(base_url=base, cookies={SESSION: cookie}) as http:
        for path, needs in (
            (f"/app/t/{org}/projects", "editor"),
            (f"/app/t/{org}/projects/{project}/rename", "editor"),
            (f"/app/t/{org}/projects/{project}/environments", "editor"),
            (f"/app/t/{org}/projects/{project}/delete", "editor"),
            (rotate, "admin"),
        ):
            form = {"csrf_token": csrf, "name": "Evil", "confirm": "yes"}
            refused = await http.post(path, data=form)
            assert refused.status_code == 403, path
            assert f"This needs the {needs} role or higher in this tenant." in refused.text
        for path in (rotate, f"/app/t/{org}/projects", "/app/organizations"):
            forged = await http.post(path, data={"name": "Evil", "confirm": "yes"})
            assert forged.status_code == 403 and "Request refused" in forged.text, path


async def test_pages_say_when_the_plan_or_an_override_leaves_experiments_out(
    settings: Settings, mailbox: Mailbox
) -> None:
    """Switched off by a platform admin, experiments are no longer offered on the project
    and getting-started pages, which say why; the experiments made before stay listed."""
    with running_server(settings) as base:
        async with httpx.AsyncClient(base_url=base) as api:
            owner = await register(api, mailbox, "olga@example.com", name="Olga")
            headers = owner.headers()
            created = await api.post("/v1/projects", headers=headers, json={"name": "Website"})
            assert created.status_code == 201, created.text
            project = created.json()["id"]
            made = await api.post(
                f"/v1/projects/{project}/experiments", headers=headers, json={"name": "Banner"}
            )
            assert made.status_code == 201, made.text
            await make_operator(settings)
            operator = await sign_in(api, OPERATOR, OPERATOR_PASSWORD)
            await override_features(api, operator, owner.tenant_id, experiments=False)
            refusal = "The platform operator switched off experiments for this tenant."
            async with chromium() as browser:
                page = await (await browser.new_context()).new_page()
                await password_sign_in(page, base, owner.email, owner.password)
                await page.goto(f"{base}/app/t/{owner.tenant_id}/projects/{project}")
                assert await page.locator("#experiments-not-in-plan").inner_text() == refusal
                assert "Banner" in await page.locator("main").inner_text()
                await page.goto(f"{base}/app/t/{owner.tenant_id}/onboarding?step=project")
                assert await page.locator("#experiments-not-in-plan").inner_text() == refusal
                assert not await page.get_by_role("form", name="Or start an experiment").count()
                await screenshot(page, "onboarding-experiments-off")
