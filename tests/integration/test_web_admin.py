"""The platform admin console in headless Debian chromium against a real server (SPEC §8,
§11): an admin searches tenants, creates one for an owner's email, changes its plan (a pool to
silo move inside the request) and disables it, and the owner's next page shows the notice;
enabling lets them back in. The admin renames a tenant, overrides its features and edits
its metadata (each checked through the admin API), sees a plan change refused while a data
move is under way (409) and pages through many tenants. Also: non-admins get 403, the sign-in
redirect keeps `next`, CSRF-less posts are refused, and the console is absent where the admin
routes are served apart. Screenshots go to docs/screenshots/admin-*.png."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from tenantry.bootstrap import Container
from tenantry.domain.provider.admins import ensure_platform_admin
from tenantry.settings import Settings
from tenantry.storage.models import StoreMove, Tenant, User
from tenantry.transports.rest.app import create_app
from tests.integration.test_web_sessions import web_sign_in
from tests.support.api import Account, bearer, register, sign_in
from tests.support.browser import chromium, password_sign_in, screenshot, session_cookie
from tests.support.mailbox import Mailbox
from tests.support.net import free_port
from tests.support.server import running_server

pytestmark = pytest.mark.integration
OPERATOR = "op@example.com"
OPERATOR_PASSWORD = "operator password 1"
MIA = "mia@example.com"
TENANT_URL = re.compile(r".*/admin/tenants/([0-9a-f-]{36})\?notice=admin_tenant_created$")


@asynccontextmanager
async def beside_the_server(settings: Settings) -> AsyncIterator[Container]:
    """The services on the running server's database, without its background workers."""
    container = Container(settings)
    await container.start(migrate=False, workers=False)
    try:
        yield container
    finally:
        await container.stop()


async def make_operator(settings: Settings) -> None:
    """A platform admin, made the way `tenantry admin create` makes one."""
    async with beside_the_server(settings) as container:
        await ensure_platform_admin(container.identity, email=OPERATOR, password=OPERATOR_PASSWORD)


async def test_admin_creates_changes_disables_and_enables_a_tenant(
    settings: Settings, mailbox: Mailbox
) -> None:
    with running_server(settings) as base:
        async with httpx.AsyncClient(base_url=base) as api:
            mia = await register(api, mailbox, MIA, name="Mia")
            await make_operator(settings)
            async with chromium() as browser:
                admin_context = await browser.new_context()
                page = await admin_context.new_page()
                await password_sign_in(page, base, OPERATOR, OPERATOR_PASSWORD)
                await page.get_by_role("link", name="Admin console").click()
                await page.get_by_role("heading", name="Tenants").wait_for()
                await screenshot(page, "admin-tenants")

                await page.get_by_role("link", name="New tenant").click()
                await page.get_by_label("Tenant name").fill("Mia Co")
                await page.get_by_label("Owner's email address").fill(MIA)
                await page.locator("#plan").evaluate(
                    "el => el.add(new Option('diamond', 'diamond', true, true))"
                )
                await page.get_by_role("button", name="Create tenant").click()
                alert = await page.get_by_role("alert").inner_text()
                assert alert == "There is no plan 'diamond'."
                assert await page.get_by_label("Tenant name").input_value() == "Mia Co"
                await screenshot(page, "admin-new-tenant")
                await page.get_by_label("Plan").select_option("free")
                await page.get_by_role("button", name="Create tenant").click()
                await page.wait_for_url(TENANT_URL)
                match = TENANT_URL.match(page.url)
                assert match is not None
                tenant_id = match.group(1)
                await page.get_by_text("The tenant is created.").wait_for()
                members = await page.locator("#members").inner_text()
                assert MIA in members and "owner" in members
                assert "unlimited" not in await page.locator("#usage").inner_text()

                await page.goto(f"{base}/admin")
                await page.get_by_label("Name or id").fill("mia")
                await page.get_by_label("Plan").select_option("free")
                await page.get_by_role("button", name="Search").click()
                await page.get_by_role("link", name="Mia Co").click()
                await page.wait_for_url(f"{base}/admin/tenants/{tenant_id}")

                await page.get_by_label("Plan", exact=True).select_option("premium")
                await page.get_by_role("button", name="Change plan").click()
                await page.get_by_text("The plan is changed.").wait_for()
                assert "premium (silo)" in await page.locator(".facts").inner_text()

                mia_page = await (await browser.new_context()).new_page()
                await password_sign_in(mia_page, base, MIA, mia.password)
                assert not await mia_page.get_by_role("link", name="Admin console").count()
                opened = await mia_page.goto(f"{base}/app/t/{tenant_id}")
                assert opened is not None and opened.status == 200

                await page.get_by_label("Reason").fill("Unpaid invoice")
                await page.get_by_role("button", name="Disable tenant").click()
                await page.get_by_text("The tenant is disabled.").wait_for()
                assert "Disabled: Unpaid invoice." in await page.locator("main").inner_text()
                await screenshot(page, "admin-tenant")

                blocked = await mia_page.reload()
                assert blocked is not None and blocked.status == 403
                heading = await mia_page.get_by_role("heading", level=1).inner_text()
                assert heading == "This tenant is disabled"
                await screenshot(mia_page, "admin-member-disabled")

                await page.get_by_role("button", name="Enable tenant").click()
                await page.get_by_text("The tenant is enabled again.").wait_for()
                back = await mia_page.reload()
                assert back is not None and back.status == 200
                assert await mia_page.get_by_role("heading", level=1).inner_text() == "Mia Co"

                await page.get_by_role("link", name="Users").click()
                await page.get_by_label("Email or name").fill("MIA@")
                await page.get_by_role("button", name="Search").click()
                rows = await page.locator("tbody").inner_text()
                assert MIA in rows and OPERATOR not in rows
                await screenshot(page, "admin-users")

                refused = await mia_page.goto(f"{base}/admin/users")
                assert refused is not None and refused.status == 403
                await mia_page.get_by_role("heading", name="Platform admins only").wait_for()
                await screenshot(mia_page, "admin-forbidden")


async def test_admin_edits_name_features_and_metadata(settings: Settings, mailbox: Mailbox) -> None:
    with running_server(settings) as base:
        async with httpx.AsyncClient(base_url=base) as api:
            mia = await register(api, mailbox, MIA, name="Mia")
            await make_operator(settings)
            operator = bearer((await sign_in(api, OPERATOR, OPERATOR_PASSWORD)).access_token)

            async def details() -> Any:
                found = await api.get(f"/v1/admin/tenants/{mia.tenant_id}", headers=operator)
                assert found.status_code == 200, found.text
                return found.json()

            async with chromium() as browser:
                page = await (await browser.new_context()).new_page()
                await password_sign_in(page, base, OPERATOR, OPERATOR_PASSWORD)
                await page.goto(f"{base}/admin/tenants/{mia.tenant_id}")
                metadata = page.get_by_label("Metadata (a JSON object)")
                await page.get_by_label("Tenant name").fill("Mia Holdings")
                await page.get_by_role("button", name="Rename").click()
                await page.get_by_text("The tenant is renamed.").wait_for()
                assert (await details())["name"] == "Mia Holdings"

                # the free plan has no webhooks: an override turns them on, another off
                await page.get_by_label("webhooks").select_option("on")
                await page.get_by_label("experiments").select_option("off")
                await page.get_by_role("button", name="Save features").click()
                await page.get_by_text("The feature settings are saved.").wait_for()
                found = await details()
                assert found["feature_overrides"] == {"webhooks": True, "experiments": False}
                assert found["features"]["webhooks"] is True
                assert found["features"]["experiments"] is False
                await page.get_by_label("experiments").select_option("plan")
                await page.get_by_role("button", name="Save features").click()
                await page.get_by_text("The feature settings are saved.").wait_for()
                assert (await details())["feature_overrides"] == {"webhooks": True}

                await metadata.fill('{"crm_id": "A-17",')
                await page.get_by_role("button", name="Save metadata").click()
                alert = await page.get_by_role("alert").inner_text()
                assert alert == "Enter a JSON object of at most 20000 characters."
                assert await metadata.input_value() == '{"crm_id": "A-17",'
                await metadata.fill('{"crm_id": "A-17", "region": "eu"}')
                await page.get_by_role("button", name="Save metadata").click()
                await page.get_by_text("The metadata is saved.").wait_for()
                assert (await details())["metadata"] == {"crm_id": "A-17", "region": "eu"}
                await screenshot(page, "admin-tenant-settings")
                await metadata.fill('{"region": "us"}')
                await page.get_by_role("button", name="Save metadata").click()
                await page.get_by_text("The metadata is saved.").wait_for()
                assert (await details())["metadata"] == {"region": "us"}
                long_key = "k" * 101
                await metadata.fill(f'{{"{long_key}": 1}}')
                await page.get_by_role("button", name="Save metadata").click()
                assert "metadata" in await page.get_by_role("alert").inner_text()
                assert (await details())["metadata"] == {"region": "us"}


async def test_a_plan_change_during_a_data_move_and_tenant_pages(
    settings: Settings, mailbox: Mailbox
) -> None:
    with running_server(settings) as base:
        async with httpx.AsyncClient(base_url=base) as api:
            mia = await register(api, mailbox, MIA, name="Mia")
            await make_operator(settings)
            async with beside_the_server(settings) as container:
                now = container.clock.now()
                async with container.db.transaction() as session:
                    session.add(
                        StoreMove(
                            tenant_id=uuid.UUID(mia.tenant_id),
                            target="silo",
                            target_plan="premium",
                            state="copying",
                            created_at=now,
                            updated_at=now,
                        )
                    )
                    for i in range(55):
                        at = now + timedelta(seconds=i + 1)
                        session.add(
                            Tenant(
                                id=uuid.uuid4(),
                                name=f"Bulk {i:02}",
                                kind="organization",
                                plan="free",
                                created_at=at,
                                updated_at=at,
                            )
                        )
            async with chromium() as browser:
                page = await (await browser.new_context()).new_page()
                await password_sign_in(page, base, OPERATOR, OPERATOR_PASSWORD)
                await page.goto(f"{base}/admin/tenants/{mia.tenant_id}")
                await page.get_by_label("Plan", exact=True).select_option("basic")
                async with page.expect_response(lambda r: r.request.method == "POST") as posted:
                    await page.get_by_role("button", name="Change plan").click()
                assert (await posted.value).status == 409
                alert = await page.get_by_role("alert").inner_text()
                assert alert == "The tenant's data is moving to another plan; try again shortly."
                await screenshot(page, "admin-plan-conflict")
                tenant = await api.get("/v1/tenant", headers=mia.headers(mia.tenant_id))
                assert tenant.json()["plan"] == "free"

                await page.goto(f"{base}/admin")
                await page.get_by_label("Name or id").fill("Bulk")
                await page.get_by_role("button", name="Search").click()
                first = await page.locator("tbody tr").all_inner_texts()
                assert len(first) == 50 and first[0].startswith("Bulk 00")
                await page.get_by_role("link", name="Next tenants").click()
                rest = await page.locator("tbody tr").all_inner_texts()
                assert [row.split()[1] for row in rest] == ["50", "51", "52", "53", "54"]
                assert "q=Bulk" in page.url
                assert not await page.get_by_role("link", name="Next tenants").count()
                await page.get_by_role("link", name="First tenants").click()
                assert (await page.locator("tbody tr").all_inner_texts()) == first


async def test_csrf_less_posts_are_refused_and_strangers_sent_to_sign_in(
    settings: Settings, mailbox: Mailbox
) -> None:
    with running_server(settings) as base:
        async with httpx.AsyncClient(base_url=base) as api:
            mia = await register(api, mailbox, MIA, name="Mia")
            await make_operator(settings)
            async with chromium() as browser:
                context = await browser.new_context()
                page = await context.new_page()
                await password_sign_in(page, base, OPERATOR, OPERATOR_PASSWORD)
                cookie = await session_cookie(context)
                assert cookie is not None
            url = f"/admin/tenants/{mia.tenant_id}/disable"
            jar = {cookie["name"]: cookie["value"]}
            async with httpx.AsyncClient(base_url=base, cookies=jar) as admin:
                forged = await admin.post(url, data={"reason": "x"})
                assert forged.status_code == 403 and "Request refused" in forged.text
                wrong = await admin.post(url, data={"csrf_token": "nope"})
                assert wrong.status_code == 403
                seen = await admin.get(f"/admin/tenants/{mia.tenant_id}")
                assert seen.status_code == 200 and "Disable tenant" in seen.text

            stranger = await api.get("/admin/users?q=a")
            assert stranger.status_code == 303
            assert stranger.headers["location"] == "/login?next=%2Fadmin%2Fusers%3Fq%3Da"
            anonymous_post = await api.post(url, data={})
            assert anonymous_post.status_code == 303
            member = await api.get("/v1/tenant", headers=mia.headers(mia.tenant_id))
            assert member.json()["status"] == "active"


async def test_the_console_follows_the_admin_routes(container: Container) -> None:
    """Where the admin routes are served on a private listener, the public app has no
    console and the admin app has it, with the sign-in pages and nothing else of the public
    app; where they are mounted together, it is there."""
    public_only = create_app(container, include_admin=False)
    admin_only = create_app(container, include_public=False)
    both = create_app(container)
    for app, expected in ((public_only, 404), (admin_only, 303), (both, 303)):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            for path in ("/admin", "/admin/users", "/admin/tenants/new"):
                assert (await client.get(path)).status_code == expected, path
            assert (await client.get("/login")).status_code == 200
            home = await client.get("/app")
            assert home.status_code == 303
            assert home.headers["location"] == ("/admin" if app is admin_only else "/login")
            account = await client.get("/app/account")
            assert account.status_code == (404 if app is admin_only else 303)


async def test_the_console_on_the_private_admin_listener(
    settings: Settings, mailbox: Mailbox
) -> None:
    admin_address = f"127.0.0.1:{free_port()}"
    with running_server(settings, admin_listen=admin_address) as base:
        await make_operator(settings)
        async with httpx.AsyncClient(base_url=base) as api:
            mia = await register(api, mailbox, MIA, name="Mia")
            operator = await sign_in(api, OPERATOR, OPERATOR_PASSWORD)
        async with httpx.AsyncClient(base_url=f"http://{admin_address}") as admin_api:
            disabled = await admin_api.post(
                f"/v1/admin/users/{mia.user_id}/disable", headers=bearer(operator.access_token)
            )
            assert disabled.status_code == 204
        async with chromium() as browser:
            page = await (await browser.new_context()).new_page()
            hidden = await page.goto(f"{base}/admin")
            assert hidden is not None and hidden.status == 404
            await page.goto(f"http://{admin_address}/admin/users")
            await page.wait_for_url(re.compile(r".*/login\?next=.*"))
            await page.get_by_label("Email address").fill(OPERATOR)
            await page.get_by_role("button", name="Continue").click()
            await page.get_by_label("Password", exact=True).fill(OPERATOR_PASSWORD)
            await page.get_by_role("button", name="Sign in", exact=True).click()
            await page.wait_for_url(f"http://{admin_address}/admin/users")
            await page.get_by_label("Email or name").fill("mia")
            await page.get_by_role("button", name="Search").click()
            listed = await page.locator("tbody").inner_text()
            assert MIA in listed and "disabled" in listed
            # its header offers only the console: the public app's pages are not here
            assert not await page.locator("#tenant-switcher").count()
            await page.get_by_role("link", name="Tenantry").click()
            await page.wait_for_url(f"http://{admin_address}/admin")
            await page.get_by_role("link", name="Mia's workspace").click()
            await page.get_by_label("Reason").fill("Chargeback")
            await page.get_by_role("button", name="Disable tenant").click()
            await page.get_by_text("The tenant is disabled.").wait_for()
            await screenshot(page, "admin-private-listener")


async def test_the_console_edits_refuse_the_wrong_visitor_and_bad_input(
    container: Container, client: httpx.AsyncClient, ann: Account, bob: Account
) -> None:
    """The name, features and metadata posts: a signed-in non-admin gets 403 even with a
    valid CSRF token, no session goes to sign in, an unknown tenant is a 404 page, a
    non-object metadata a 422; nothing changes. Bob's posts to Ann's tenant's wizard are
    refused as for any page of a tenant he is not in. In process, both databases."""
    edits = {
        "name": {"name": "Taken over"},
        "features": {"feature.webhooks": "on"},
        "metadata": {"metadata": '{"owner": "bob"}'},
    }
    anonymous = {
        path: await client.post(f"/admin/tenants/{ann.tenant_id}/{path}", data=form)
        for path, form in edits.items()
    }
    assert all(
        r.status_code == 303 and r.headers["location"] == "/login" for r in anonymous.values()
    )

    csrf = await web_sign_in(client, bob)
    for path, form in edits.items():
        refused = await client.post(
            f"/admin/tenants/{ann.tenant_id}/{path}", data={"csrf_token": csrf, **form}
        )
        assert refused.status_code == 403, path
        assert "Platform admins only" in refused.text
    wizard = await client.post(
        f"/app/t/{ann.tenant_id}/onboarding/experiment",
        data={"csrf_token": csrf, "name": "Hijack", "project_id": str(uuid.uuid4())},
    )
    assert wizard.status_code == 403
    assert "You no longer have access to this tenant" in wizard.text

    async with container.db.transaction() as session:
        await session.execute(
            update(User).where(User.id == uuid.UUID(bob.user_id)).values(is_platform_admin=True)
        )
    missing = await client.post(
        f"/admin/tenants/{uuid.uuid4()}/name", data={"csrf_token": csrf, "name": "Ghost"}
    )
    assert missing.status_code == 404 and "No such tenant" in missing.text
    for text in ("[1, 2]", "not json", '{"k": ' + "1" * 30_000 + "}"):
        bad = await client.post(
            f"/admin/tenants/{ann.tenant_id}/metadata", data={"csrf_token": csrf, "metadata": text}
        )
        assert bad.status_code == 422
        assert "Enter a JSON object" in bad.text
    empty_name = await client.post(
        f"/admin/tenants/{ann.tenant_id}/name", data={"csrf_token": csrf, "name": "  "}
    )
    assert empty_name.status_code == 422
    details = await container.admin_tenants.details(tenant_id=uuid.UUID(ann.tenant_id))
    assert details.name == "Ann's workspace"
    assert details.metadata == {} and details.feature_overrides == {}
