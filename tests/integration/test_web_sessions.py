"""Web sessions and CSRF without a browser (SPEC §11): the cookie token resolves to its
identity session until logout, a password reset or change, sign out everywhere, or its idle or
absolute lifetime ends it; CSRF tokens are bound to the session (or to the pre-login nonce);
form posts without them, or from another site, are refused. Both databases."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from tenantry.bootstrap import Container
from tenantry.domain.identity.access import Principal
from tenantry.domain.identity.sessions import ClientInfo
from tenantry.errors import Unauthenticated
from tenantry.settings import Settings
from tenantry.storage.epoch import bump_access_epoch
from tenantry.storage.models import User
from tests.support.api import PASSWORD, Account, sign_in
from tests.support.apps import client_with
from tests.support.clock import ShiftableClock
from tests.support.mailbox import Mailbox

pytestmark = pytest.mark.integration
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
NEW_PASSWORD = "an entirely different passphrase"


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, html
    return found.group(1)


async def web_sign_in(client: httpx.AsyncClient, account: Account) -> str:
    """Sign in through the pages; returns the CSRF token of the signed-in session."""
    token = csrf_of((await client.get("/login")).text)
    response = await client.post(
        "/login/password",
        data={"csrf_token": token, "email": account.email, "password": account.password},
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/app"
    return csrf_of((await client.get("/app/account")).text)


async def test_a_web_session_lives_until_its_identity_session_ends(
    container: Container, ann: Account
) -> None:
    sessions = container.web_sessions
    token = await sessions.open(refresh_token=ann.refresh_token)
    found = await sessions.resolve(token)
    assert found is not None and str(found.user_id) == ann.user_id
    assert await sessions.resolve(token + "x") is None
    await container.login.logout(refresh_token=ann.refresh_token)
    assert await sessions.resolve(token) is None


async def test_idle_and_absolute_lifetimes(
    container: Container, ann: Account, clock: ShiftableClock, client: httpx.AsyncClient
) -> None:
    sessions = container.web_sessions
    idle = container.settings.web_session_idle_ttl
    token = await sessions.open(refresh_token=ann.refresh_token)
    clock.advance(idle - 120)
    assert await sessions.resolve(token) is not None  # seen: the idle clock restarts
    clock.advance(idle - 120)
    assert await sessions.resolve(token) is not None
    clock.advance(idle + 1)
    assert await sessions.resolve(token) is None

    fresh = await sign_in(client, ann.email, ann.password)
    token = await sessions.open(refresh_token=fresh.refresh_token)
    steps = container.settings.web_session_ttl // (idle - 120) + 1
    for _ in range(steps):
        assert await sessions.resolve(token) is not None
        clock.advance(idle - 120)
    assert await sessions.resolve(token) is None


async def test_password_change_and_reset_end_the_other_web_sessions(
    container: Container, ann: Account, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    sessions = container.web_sessions
    other = await sessions.open(refresh_token=ann.refresh_token)
    mine = await sign_in(client, ann.email, ann.password)
    kept = await sessions.open(refresh_token=mine.refresh_token)
    identity = await sessions.resolve(kept)
    assert identity is not None
    principal = Principal(identity.user_id, identity.session_id, ann.email, False)
    await container.recovery.change_password(
        principal=principal, current_password=PASSWORD, password=NEW_PASSWORD
    )
    assert await sessions.resolve(other) is None
    assert await sessions.resolve(kept) is not None

    browser = ClientInfo(ip="127.0.0.1", user_agent="pytest")
    await container.recovery.forgot_password(email=ann.email, client=browser)
    code = await mailbox.code_for(ann.email, count=3)  # after the change's notice
    await container.recovery.reset_password(
        email=ann.email, code=code, password=PASSWORD, client=browser
    )
    assert await sessions.resolve(kept) is None


async def test_sign_out_everywhere_and_tokens_valid_after(
    container: Container, ann: Account, client: httpx.AsyncClient
) -> None:
    sessions = container.web_sessions
    token = await sessions.open(refresh_token=ann.refresh_token)
    identity = await sessions.resolve(token)
    assert identity is not None
    authenticate = container.authenticator.authenticate_session
    await authenticate(
        user_id=identity.user_id,
        session_id=identity.session_id,
        email=identity.email,
        signed_in_at=identity.signed_in_at,
    )
    async with container.db.transaction() as session:  # as a reset a second later would
        later = identity.signed_in_at + timedelta(seconds=1)
        await session.execute(
            update(User).where(User.id == identity.user_id).values(tokens_valid_after=later)
        )
        await bump_access_epoch(session)
    with pytest.raises(Unauthenticated):  # signed in before the user's tokens-valid-after
        await authenticate(
            user_id=identity.user_id,
            session_id=identity.session_id,
            email=identity.email,
            signed_in_at=identity.signed_in_at,
        )
    await sessions.close_everywhere(user_id=identity.user_id)
    assert await sessions.resolve(token) is None
    api = await client.get("/v1/me", headers=ann.headers())
    assert api.status_code == 401  # the API tokens of every session went with them


async def test_csrf_tokens_are_bound(container: Container) -> None:
    sessions = container.web_sessions
    one, two = uuid.uuid4(), uuid.uuid4()
    assert sessions.csrf_valid(one, sessions.csrf_token(one))
    assert not sessions.csrf_valid(two, sessions.csrf_token(one))
    assert not sessions.csrf_valid(one, "")
    nonce = "n" * 43
    assert sessions.form_token_valid(nonce, sessions.form_token(nonce))
    assert not sessions.form_token_valid("m" * 43, sessions.form_token(nonce))
    assert not sessions.form_token_valid("", sessions.form_token(""))


async def test_forms_without_a_valid_token_or_from_another_site_are_refused(
    client: httpx.AsyncClient, ann: Account
) -> None:
    anonymous = await client.post("/login", data={"email": ann.email})
    assert anonymous.status_code == 403
    assert "Request refused" in anonymous.text
    token = await web_sign_in(client, ann)
    rename = "/app/account/name"
    assert (await client.post(rename, data={"name": "Mallory"})).status_code == 403
    forged = {"name": "Mallory", "csrf_token": "0" * 64}
    assert (await client.post(rename, data=forged)).status_code == 403
    good = {"name": "Ann B", "csrf_token": token}
    cross = await client.post(rename, data=good, headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    fetch = await client.post(rename, data=good, headers={"Sec-Fetch-Site": "cross-site"})
    assert fetch.status_code == 403
    me = (await client.get("/v1/me", headers=ann.headers())).json()
    assert me["name"] == "Ann"
    same = await client.post(rename, data=good, headers={"Origin": "http://testserver"})
    assert same.status_code == 303
    me = (await client.get("/v1/me", headers=ann.headers())).json()
    assert me["name"] == "Ann B"


async def test_pages_carry_the_security_headers_and_cookie_flags(
    client: httpx.AsyncClient, ann: Account
) -> None:
    page = await client.get("/login")
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"
    assert "<script>" not in page.text and "style=" not in page.text
    token = csrf_of(page.text)
    signed = await client.post(
        "/login/password", data={"csrf_token": token, "email": ann.email, "password": PASSWORD}
    )
    cookie = signed.headers["set-cookie"].lower()
    assert "tenantry_session=" in cookie and "httponly" in cookie
    assert "samesite=lax" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # public URL is http here
    css = await client.get("/assets/web.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


COOKIE_NAMES = {"http": ("http://testserver", ""), "https": ("https://testserver", "__Host-")}


@pytest.mark.parametrize(("public_url", "prefix"), COOKIE_NAMES.values(), ids=COOKIE_NAMES)
async def test_the_cookies_take_the_host_prefix_under_https(
    settings: Settings, clock: ShiftableClock, ann: Account, public_url: str, prefix: str
) -> None:
    async with client_with(settings, clock, base_url=public_url, public_url=public_url) as client:
        page = await client.get("/login")
        signed = await client.post(
            "/login/password",
            data={"csrf_token": csrf_of(page.text), "email": ann.email, "password": PASSWORD},
        )
        set_cookies = [*page.headers.get_list("set-cookie"), *signed.headers.get_list("set-cookie")]
        sent = {cookie.partition("=")[0]: cookie.lower() for cookie in set_cookies}
        for name in (f"{prefix}tenantry_form", f"{prefix}tenantry_session"):
            assert "path=/;" in sent[name] and "domain=" not in sent[name], sent[name]
            assert ("; secure" in sent[name]) is bool(prefix), sent[name]
        assert (await client.get("/app/account")).status_code == 200
        # the session token under the other name is no session
        token = client.cookies[f"{prefix}tenantry_session"]
        client.cookies.clear()
        other = "tenantry_session" if prefix else "__Host-tenantry_session"
        refused = await client.get("/app/account", headers={"Cookie": f"{other}={token}"})
        assert refused.status_code == 303, refused.text
        assert refused.headers["location"].startswith("/login")


async def test_the_lockout_is_a_clear_message_with_the_wait(
    client: httpx.AsyncClient, ann: Account, container: Container
) -> None:
    token = csrf_of((await client.get("/login")).text)
    wrong = {"csrf_token": token, "email": ann.email, "password": "not the password"}
    for _ in range(container.settings.login_max_failures):
        page = await client.post("/login/password", data=wrong)
        assert page.status_code == 401 and "Incorrect email or password." in page.text
    right = {**wrong, "password": ann.password}
    locked = await client.post("/login/password", data=right)
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 800
    assert "Too many attempts. Try again in 15 minutes." in locked.text
    assert "tenantry_session" not in locked.headers.get("set-cookie", "")


async def test_a_disabled_tenant_shows_a_notice_instead_of_its_content(
    client: httpx.AsyncClient, ann: Account, acme: str, container: Container
) -> None:
    await web_sign_in(client, ann)
    assert (await client.get(f"/app/t/{acme}")).status_code == 200
    await container.admin_tenants.disable(
        tenant_id=uuid.UUID(acme), reason="unpaid", admin_id=uuid.UUID(ann.user_id)
    )
    page = await client.get(f"/app/t/{acme}")
    assert page.status_code == 403
    assert "This tenant is disabled" in page.text and "Projects" not in page.text
    assert (await client.get(f"/app/t/{ann.tenant_id}")).status_code == 200
