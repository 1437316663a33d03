"""The onboarding wizard in headless Debian chromium against a real server (SPEC §11): a new
account's first code confirmation lands on it; the snippet is copied, company details go into
the tenant profile (invalid ones are refused with a clear message), a teammate is invited (the
mail arrives), a first project is created, and the dashboard's checklist shows every step done.
Another owner skips every step and finds them skipped after signing in again; a third starts
an experiment instead of a project and finds it on the project page; a viewer sees no wizard or
checklist and a forged post is refused. Screenshots: docs/screenshots/onboarding-*."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tenantry.settings import Settings
from tests.support.api import (
    bearer,
    create_organization,
    invite_and_join,
    mailed_invitation_token,
    register,
)
from tests.support.browser import (
    chromium,
    continue_with,
    password_sign_in,
    screenshot,
    session_cookie,
)
from tests.support.mailbox import Mailbox
from tests.support.server import running_server

pytestmark = pytest.mark.integration
SESSION = "tenantry_session"
NORA = "nora@example.com"
STEPS = ("snippet", "company", "invite", "project")


async def states(page: Any, selector: str) -> dict[str, str]:
    """Each step's state as shown in the wizard's step list or the dashboard's checklist."""
    found: dict[str, str] = {}
    for step in STEPS:
        found[step] = await page.locator(f"{selector} [data-step={step}] .status").inner_text()
    return found


async def api_tokens(api: httpx.AsyncClient, mailbox: Mailbox, email: str) -> dict[str, str]:
    """REST tokens for an account made by a code (it has no password): another mailed code."""
    before = len(mailbox.messages(email))
    mailed = await api.post("/v1/auth/email-code", json={"email": email})
    assert mailed.status_code == 202, mailed.text
    code = await mailbox.code_for(email, count=before + 1)
    confirmed = await api.post("/v1/auth/confirm", json={"email": email, "code": code})
    assert confirmed.status_code == 200, confirmed.text
    tokens: dict[str, str] = confirmed.json()
    return tokens


async def test_new_account_completes_the_wizard(settings: Settings, mailbox: Mailbox) -> None:
    with running_server(settings) as base:
        async with chromium() as browser, httpx.AsyncClient(base_url=base) as api:
            context = await browser.new_context()
            await context.grant_permissions(["clipboard-read", "clipboard-write"])
            page = await context.new_page()
            await continue_with(page, base, NORA)
            await page.get_by_role("button", name="Email me a code instead").click()
            await page.get_by_label("Code").fill(await mailbox.code_for(NORA))
            await page.get_by_role("button", name="Continue").click()
            await page.wait_for_url(re.compile(r".*/app/t/[0-9a-f-]+/onboarding$"))
            tenant = page.url.split("/app/t/")[1].split("/")[0]
            tokens = await api_tokens(api, mailbox, NORA)
            headers = {**bearer(tokens["access_token"]), "X-Tenant-ID": tenant}

            # (1) the development environment's snippet of "My first project", copied
            await page.get_by_role("heading", name="Install the script").wait_for()
            assert await states(page, ".wizard-steps") == dict.fromkeys(STEPS, "open")
            projects = (await api.get("/v1/projects", headers=headers)).json()["items"]
            assert [p["name"] for p in projects] == ["My first project"]
            envs = await api.get(f"/v1/projects/{projects[0]['id']}/environments", headers=headers)
            development = next(e for e in envs.json()["items"] if e["slug"] == "development")
            assert await page.locator("#onboarding-snippet").inner_text() == development["snippet"]
            copy = page.get_by_role("button", name="Copy the snippet")
            await copy.click()
            await copy.filter(has_text="Copied").wait_for(timeout=5000)
            assert await page.evaluate("navigator.clipboard.readText()") == development["snippet"]
            await screenshot(page, "onboarding-snippet")
            await page.get_by_role("button", name=re.compile("installed it")).click()

            # (2) company details: refused with a clear message, then saved in the profile
            await page.get_by_role("heading", name="Company details").wait_for()
            await page.get_by_label("Company name").fill("Nora Labs")
            await page.get_by_label("Employee count").fill("-3")
            await page.get_by_label("Website").fill("not a url")
            await page.get_by_role("button", name="Save and continue").click()
            alert = page.get_by_role("alert")
            await alert.wait_for()
            message = await alert.inner_text()
            assert "Employee count: enter a whole number from 1" in message
            assert "Website: enter a full address such as https://example.com." in message
            assert await page.get_by_label("Company name").input_value() == "Nora Labs"
            await screenshot(page, "onboarding-company-error")
            assert (await api.get("/v1/tenant", headers=headers)).json()["profile"] == {}
            await page.get_by_label("Employee count").fill("12")
            await page.get_by_label("Website").fill("https://nora.example")
            await page.get_by_role("button", name="Save and continue").click()

            # (3) invite teammates: the mail arrives
            await page.get_by_role("heading", name="Invite teammates").wait_for()
            profile = (await api.get("/v1/tenant", headers=headers)).json()["profile"]
            assert profile == {
                "company_name": "Nora Labs",
                "employee_count": 12,
                "website": "https://nora.example/",
            }
            await page.get_by_label("Email addresses").fill("tom@example.com, not-an-address")
            await page.get_by_label("Role").select_option("editor")
            await page.get_by_role("button", name="Send invitations").click()
            await page.get_by_text("Invitation sent to tom@example.com").wait_for()
            await page.get_by_text("Not a valid email address.").wait_for()
            await screenshot(page, "onboarding-invite")
            assert await mailed_invitation_token(mailbox, "tom@example.com")
            invited = (await api.get("/v1/invitations", headers=headers)).json()["items"]
            assert [(i["email"], i["role"]) for i in invited] == [("tom@example.com", "editor")]
            await page.get_by_role("link", name="Continue").click()

            # (4) a first project, through the projects service
            await page.get_by_role("heading", name="Create a project").wait_for()
            await screenshot(page, "onboarding-project")
            await page.get_by_label("Project name").fill("Storefront")
            await page.get_by_role("button", name="Create project").click()
            await page.get_by_role("heading", name="You are all set").wait_for()
            assert await states(page, ".wizard-steps") == dict.fromkeys(STEPS, "done")
            await screenshot(page, "onboarding-done")
            listed = (await api.get("/v1/projects", headers=headers)).json()["items"]
            assert sorted(p["name"] for p in listed) == ["My first project", "Storefront"]

            await page.get_by_role("link", name="Go to the dashboard").click()
            await page.wait_for_url(f"{base}/app/t/{tenant}")
            assert await states(page, ".checklist") == dict.fromkeys(STEPS, "done")
            assert not await page.get_by_role("link", name="Continue getting started").count()
            await screenshot(page, "onboarding-dashboard-done")

            # signing in with a code again lands on the dashboard: the wizard started once
            await page.get_by_role("button", name="Sign out").click()
            await continue_with(page, base, NORA)
            count = len(mailbox.messages(NORA))
            await page.get_by_role("button", name="Email me a code instead").click()
            await page.get_by_label("Code").fill(await mailbox.code_for(NORA, count=count + 1))
            await page.get_by_role("button", name="Continue").click()
            await page.wait_for_url(f"{base}/app/t/{tenant}")


async def test_skipping_progress_viewer_and_forged_posts(
    settings: Settings, mailbox: Mailbox
) -> None:
    with running_server(settings) as base:
        async with httpx.AsyncClient(base_url=base) as api:
            owner = await register(api, mailbox, "olga@example.com", name="Olga")
            viewer = await register(api, mailbox, "vic@example.com", name="Vic")
            org = await create_organization(api, owner, "Olga Corp")
            await invite_and_join(api, mailbox, owner, viewer, org, "viewer")
            async with chromium() as browser:
                page = await (await browser.new_context()).new_page()
                await password_sign_in(page, base, owner.email, owner.password)
                await page.goto(f"{base}/app/t/{org}")
                assert await states(page, ".checklist") == dict.fromkeys(STEPS, "open")
                await screenshot(page, "onboarding-dashboard-checklist")
                await page.get_by_role("link", name="Continue getting started").click()
                await page.wait_for_url(f"{base}/app/t/{org}/onboarding")
                # no project in a new organization: the snippet step says so
                await page.get_by_text("There is no project with an environment yet").wait_for()
                for title in ("Install the script", "Company details", "Invite teammates"):
                    await page.get_by_role("heading", name=title).wait_for()
                    await page.get_by_role("button", name="Skip this step").click()
                await page.get_by_role("heading", name="Create a project").wait_for()
                await page.get_by_role("button", name="Skip this step").click()
                await page.get_by_role("heading", name="You are all set").wait_for()

                await page.get_by_role("button", name="Sign out").click()
                await password_sign_in(page, base, owner.email, owner.password)
                await page.goto(f"{base}/app/t/{org}/onboarding")
                await page.get_by_role("heading", name="You are all set").wait_for()
                assert await states(page, ".wizard-steps") == dict.fromkeys(STEPS, "skipped")
                await page.get_by_role("link", name="Company details").click()
                await page.get_by_role("heading", name="Company details").wait_for()
                await screenshot(page, "onboarding-skipped")
                await page.goto(f"{base}/app/t/{org}")
                assert await states(page, ".checklist") == dict.fromkeys(STEPS, "skipped")

                page = await (await browser.new_context()).new_page()
                await password_sign_in(page, base, viewer.email, viewer.password)
                await page.goto(f"{base}/app/t/{org}")
                await page.get_by_role("heading", name="Olga Corp").wait_for()
                assert not await page.locator(".checklist").count()
                assert not await page.get_by_text("Getting started").count()
                refused = await page.goto(f"{base}/app/t/{org}/onboarding")
                assert refused is not None and refused.status == 403
                await page.get_by_text("Getting started is for the admins and owners").wait_for()
                await page.goto(f"{base}/app/t/{org}")
                csrf = await page.locator("input[name=csrf_token]").first.input_value()
                cookie = await session_cookie(page.context)
                assert cookie is not None
                await forged_posts(base, cookie["value"], csrf, org)
            tenant = (await api.get("/v1/tenant", headers=owner.headers(org))).json()
            assert tenant["profile"] == {}
            listed = (await api.get("/v1/projects", headers=owner.headers(org))).json()
            assert listed["items"] == []


async def forged_posts(base: str, cookie: str, csrf: str, org: str) -> None:
    """A viewer's posts with a valid token get the role message (403); token-less ones are
    refused; nothing changes."""
    wizard = f"/app/t/{org}/onboarding"
    async with httpx.AsyncClient(base_url=base, cookies={SESSION: cookie}) as http:
        paths = ("company", "project", "experiment", "snippet/skip")
        for path in (f"{wizard}/{step}" for step in paths):
            form = {"csrf_token": csrf, "company_name": "Evil", "name": "Evil"}
            answer = await http.post(path, data=form)
            assert answer.status_code == 403, path
            assert "This needs the admin role or higher in this tenant." in answer.text
        forged = await http.post(f"{wizard}/company", data={"company_name": "Evil"})
        assert forged.status_code == 403 and "Request refused" in forged.text


async def test_the_last_step_can_start_an_experiment(settings: Settings, mailbox: Mailbox) -> None:
    with running_server(settings) as base:
        async with httpx.AsyncClient(base_url=base) as api:
            owner = await register(api, mailbox, "esme@example.com", name="Esme")
            tenant = owner.tenant_id
            [project] = (await api.get("/v1/projects", headers=owner.headers())).json()["items"]
            async with chromium() as browser:
                page = await (await browser.new_context()).new_page()
                await password_sign_in(page, base, owner.email, owner.password)
                await page.goto(f"{base}/app/t/{tenant}/onboarding?step=project")
                await page.get_by_role("heading", name="Or start an experiment").wait_for()
                await page.get_by_role("button", name="Create experiment").click()
                assert await page.get_by_label("Experiment name").evaluate("e => !e.validity.valid")
                await page.get_by_label("Project", exact=True).select_option(
                    label="My first project"
                )
                await page.get_by_label("Experiment name").fill("Green checkout button")
                await page.get_by_label("Description").fill("Does green sell more?")
                await screenshot(page, "onboarding-experiment")
                await page.get_by_role("button", name="Create experiment").click()
                await page.wait_for_url(re.compile(rf".*/app/t/{tenant}/onboarding\?step=snippet$"))
                assert (await states(page, ".wizard-steps"))["project"] == "done"

                path = f"/v1/projects/{project['id']}/experiments"
                listed = (await api.get(path, headers=owner.headers())).json()["items"]
                assert [(e["name"], e["description"], e["live_in"]) for e in listed] == [
                    ("Green checkout button", "Does green sell more?", [])
                ]
                # the same name again is the domain's conflict, shown on the step
                await page.goto(f"{base}/app/t/{tenant}/onboarding?step=project")
                await page.get_by_label("Experiment name").fill("Green checkout button")
                await page.get_by_role("button", name="Create experiment").click()
                await page.get_by_role("alert").filter(has_text="already").wait_for()
                await page.goto(f"{base}/app/t/{tenant}/projects/{project['id']}")
                row = page.get_by_role("row").filter(has_text="Green checkout button")
                assert "nowhere yet" in await row.inner_text()
                await screenshot(page, "project-experiments")
