"""Teams in headless Debian chromium against a real server (SPEC §6, §11): an owner creates a
team, adds a member who joined by invitation, links the team to "My first project" and sees it
on the project page, then unlinks it, removes the member, renames and deletes the team, each
step checked through the REST API; a viewer reads teams but cannot change them, even with a
forged post; CSRF-less posts are refused. Screenshots go to docs/screenshots/."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tenantry.settings import Settings
from tests.support.api import Account, invite_and_join, register
from tests.support.browser import chromium, password_sign_in, screenshot, session_cookie
from tests.support.mailbox import Mailbox
from tests.support.server import running_server

pytestmark = pytest.mark.integration
SESSION = "tenantry_session"


async def rest(api: httpx.AsyncClient, owner: Account, path: str) -> Any:
    found = await api.get(path, headers=owner.headers())
    assert found.status_code == 200, found.text
    return found.json()


async def first_project(api: httpx.AsyncClient, owner: Account) -> str:
    listed = (await rest(api, owner, "/v1/projects"))["items"]
    assert [p["name"] for p in listed] == ["My first project"]
    project_id: str = listed[0]["id"]
    return project_id


async def test_owner_manages_a_team_and_links_it(settings: Settings, mailbox: Mailbox) -> None:
    with running_server(settings) as base:
        async with httpx.AsyncClient(base_url=base) as api:
            owner = await register(api, mailbox, "olga@example.com", name="Olga")
            bea = await register(api, mailbox, "bea@example.com", name="Bea")
            tenant = owner.tenant_id
            await invite_and_join(api, mailbox, owner, bea, tenant, "editor")
            project = await first_project(api, owner)
            async with chromium() as browser:
                page = await (await browser.new_context()).new_page()
                await password_sign_in(page, base, owner.email, owner.password)
                await page.goto(f"{base}/app/t/{tenant}")
                await page.get_by_role("link", name="Teams", exact=True).click()
                await page.wait_for_url(f"{base}/app/t/{tenant}/teams")
                await page.get_by_text("No teams yet.").wait_for()
                await page.get_by_label("Team name").fill("Design")
                await page.get_by_role("button", name="Create team").click()
                await page.get_by_text("The team is created.").wait_for()
                assert await page.get_by_role("heading", level=1).inner_text() == "Design"
                team = page.url.split("/teams/")[1].split("?")[0]
                await page.get_by_text("No members in this team yet.").wait_for()

                await page.get_by_label("Tenant member").select_option(bea.user_id)
                await page.get_by_role("button", name="Add to team").click()
                await page.get_by_text("The member is added to the team.").wait_for()
                await page.get_by_role("cell", name="bea@example.com", exact=True).wait_for()
                listed = (await rest(api, owner, "/v1/teams"))["items"]
                assert [(t["id"], t["name"], t["member_count"]) for t in listed] == [
                    (team, "Design", 1)
                ]
                members = (await rest(api, owner, f"/v1/teams/{team}/members"))["items"]
                assert [m["user_id"] for m in members] == [bea.user_id]
                await page.get_by_text("Not linked to any project.").wait_for()
                await screenshot(page, "team")
                await page.get_by_role("link", name="All teams").click()
                assert await page.locator(f'[data-count="{team}"]').inner_text() == "1"
                await screenshot(page, "teams")

                await page.get_by_role("link", name="Projects", exact=True).click()
                await page.get_by_role("link", name="My first project").click()
                await page.get_by_text("No teams linked.").wait_for()
                await page.get_by_label("Team", exact=True).select_option(label="Design")
                await page.get_by_role("button", name="Link team").click()
                await page.get_by_text("The team is linked to the project.").wait_for()
                assert (await rest(api, owner, f"/v1/projects/{project}"))["team_ids"] == [team]
                section = page.locator("section", has=page.locator("#project-teams-heading"))
                await section.get_by_role("link", name="Design").wait_for()
                await screenshot(page, "teams-project")
                await section.get_by_role("link", name="Design").click()
                await page.get_by_role("link", name="My first project").wait_for()

                await page.goto(f"{base}/app/t/{tenant}/projects/{project}")
                await page.get_by_role("button", name="Unlink the team Design").click()
                await page.get_by_text("The team is unlinked from the project.").wait_for()
                assert (await rest(api, owner, f"/v1/projects/{project}"))["team_ids"] == []

                await page.goto(f"{base}/app/t/{tenant}/teams/{team}")
                await page.get_by_text("Not linked to any project.").wait_for()
                remove = "Remove bea@example.com from the team"
                await page.get_by_role("button", name=remove).click()
                await page.get_by_text("The member is removed from the team.").wait_for()
                assert (await rest(api, owner, f"/v1/teams/{team}/members"))["items"] == []
                tenant_members = await rest(api, owner, "/v1/members")
                assert bea.user_id in {m["user_id"] for m in tenant_members["items"]}

                await page.get_by_label("Team name").fill("Design 2")
                await page.get_by_role("button", name="Rename").click()
                await page.get_by_text("The team is renamed.").wait_for()
                assert (await rest(api, owner, f"/v1/teams/{team}"))["name"] == "Design 2"
                await page.get_by_role("button", name="Delete team").click()
                assert await page.get_by_role("heading", level=1).inner_text() == "Design 2"
                await page.get_by_label(re.compile("I understand")).check()
                await page.get_by_role("button", name="Delete team").click()
                await page.get_by_text("The team is deleted.").wait_for()
                await page.get_by_text("No teams yet.").wait_for()
                assert (await rest(api, owner, "/v1/teams"))["items"] == []


async def test_viewer_reads_teams_only_and_forged_posts_are_refused(
    settings: Settings, mailbox: Mailbox
) -> None:
    with running_server(settings) as base:
        async with httpx.AsyncClient(base_url=base) as api:
            owner = await register(api, mailbox, "olga@example.com", name="Olga")
            viewer = await register(api, mailbox, "vic@example.com", name="Vic")
            tenant = owner.tenant_id
            await invite_and_join(api, mailbox, owner, viewer, tenant, "viewer")
            project = await first_project(api, owner)
            created = await api.post("/v1/teams", headers=owner.headers(), json={"name": "Ops"})
            assert created.status_code == 201, created.text
            team = created.json()["id"]
            path = f"/v1/teams/{team}/members/{viewer.user_id}"
            added = await api.put(path, headers=owner.headers())
            assert added.status_code == 200, added.text
            linked = await api.put(f"/v1/projects/{project}/teams/{team}", headers=owner.headers())
            assert linked.status_code == 200, linked.text
            async with chromium() as browser:
                context = await browser.new_context()
                page = await context.new_page()
                await password_sign_in(page, base, viewer.email, viewer.password)
                await page.goto(f"{base}/app/t/{tenant}/teams")
                await page.get_by_role("link", name="Ops").wait_for()
                assert not await page.get_by_role("button", name="Create team").count()
                await page.get_by_text("Your role can read teams").wait_for()
                await screenshot(page, "teams-viewer")
                await page.get_by_role("link", name="Ops").click()
                await page.get_by_text("1 member.").wait_for()
                await page.get_by_role("link", name="My first project").wait_for()
                for button in ("Add to team", "Rename", "Delete team"):
                    assert not await page.get_by_role("button", name=button).count(), button
                await page.get_by_role("link", name="My first project").click()
                teams = page.locator("section", has=page.locator("#project-teams-heading"))
                await teams.get_by_role("link", name="Ops").wait_for()
                for button in ("Link team", "Unlink the team Ops"):
                    assert not await page.get_by_role("button", name=button).count(), button
                csrf = await page.locator("input[name=csrf_token]").first.input_value()
                cookie = await session_cookie(context)
                assert cookie is not None
                await forged_posts(base, cookie["value"], csrf, tenant, project, team, viewer)
            after = await rest(api, owner, "/v1/teams")
            assert [(t["name"], t["member_count"]) for t in after["items"]] == [("Ops", 1)]
            assert (await rest(api, owner, f"/v1/projects/{project}"))["team_ids"] == [team]


async def forged_posts(
    base: str, cookie: str, csrf: str, tenant: str, project: str, team: str, viewer: Account
) -> None:
    """A viewer's valid-token posts get the domain's 403; token-less posts are refused."""
    teams = f"/app/t/{tenant}/teams"
    remove = f"{teams}/{team}/members/{viewer.user_id}/remove"
    async with httpx.AsyncClient(base_url=base, cookies={SESSION: cookie}) as http:
        for path, needs in (
            (teams, "admin"),
            (f"{teams}/{team}/rename", "admin"),
            (f"{teams}/{team}/delete", "admin"),
            (f"{teams}/{team}/members", "admin"),
            (remove, "admin"),
            (f"/app/t/{tenant}/projects/{project}/teams", "editor"),
            (f"/app/t/{tenant}/projects/{project}/teams/{team}/unlink", "editor"),
        ):
            form = {
                "csrf_token": csrf,
                "name": "Evil",
                "confirm": "yes",
                "user_id": viewer.user_id,
                "team_id": team,
            }
            refused = await http.post(path, data=form)
            assert refused.status_code == 403, path
            assert f"This needs the {needs} role or higher in this tenant." in refused.text
        for path in (teams, f"{teams}/{team}/delete", remove):
            forged = await http.post(path, data={"name": "Evil", "confirm": "yes"})
            assert forged.status_code == 403 and "Request refused" in forged.text, path
