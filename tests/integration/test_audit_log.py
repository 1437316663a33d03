"""The audit log (SPEC §9): an entry for every mutating route, written with the change and
naming actor, tenant, target, client IP (behind trusted proxies only), user agent and request
id; `GET /v1/audit-log` for a tenant's admins, `GET /v1/admin/audit-log` for platform admins,
with filters and newest-first cursors; a retention purge; never a secret in an entry."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tenantry.bootstrap import Container
from tenantry.domain.audit import purge_audit_entries, record_audit, scrub
from tenantry.settings import Settings
from tenantry.storage.models import AuditEntry, User
from tenantry.transports.rest.app import create_app
from tests.integration.test_route_inventory import api_routes
from tests.support.api import (
    OPERATOR_PASSWORD,
    PASSWORD,
    Account,
    bearer,
    create_organization,
    mailed_invitation_token,
    register,
)
from tests.support.clock import ShiftableClock
from tests.support.mailbox import Mailbox
from tests.support.plans import move_to_plan, override_features, put_on_plan
from tests.support.routes import Org, Route, all_pages, assert_guarded, assert_problem, make_org

pytestmark = pytest.mark.integration

AUDIT_LOG = "/v1/audit-log"
ADMIN_AUDIT_LOG = "/v1/admin/audit-log"
NEW_PASSWORD = "a brand new password 42"
HUBSPOT_SECRET = "hubspot-client-secret"
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
ENVIRONMENT = "/v1/projects/{project_id}/environments/{environment_id}"
EXPERIMENT = "/v1/projects/{project_id}/experiments"
WEBHOOK_ENDPOINT = "/webhook-endpoints/{endpoint_id}"
REDELIVER = WEBHOOK_ENDPOINT + "/deliveries/{delivery_id}/redeliver"

# Every mutating /v1 route and the audit action its success writes; None: deliberately not
# audited (docs/audit-log.md says why). A new route fails the inventory test until it is here.
AUDIT_ACTIONS: dict[tuple[str, str], str | None] = {
    ("POST", "/v1/auth/signup"): "auth.signup",
    ("POST", "/v1/auth/email-code"): "auth.email_code_requested",
    ("POST", "/v1/auth/confirm"): "auth.login",
    ("POST", "/v1/auth/login"): "auth.login",
    ("POST", "/v1/auth/refresh"): None,  # continues a session; every client, every 15 minutes
    ("POST", "/v1/auth/logout"): "auth.logout",
    ("POST", "/v1/auth/password/forgot"): "auth.password_reset_requested",
    ("POST", "/v1/auth/password/reset"): "auth.password_reset",
    ("POST", "/v1/auth/password/change"): "auth.password_changed",
    ("PATCH", "/v1/me"): "user.updated",
    ("POST", "/v1/me/identities"): "identity.linked",
    ("POST", "/v1/tenants"): "tenant.created",
    ("PATCH", "/v1/tenant"): "tenant.updated",
    ("DELETE", "/v1/tenant"): "tenant.deleted",
    ("PATCH", "/v1/members/{user_id}"): "membership.updated",
    ("DELETE", "/v1/members/{user_id}"): "membership.deleted",
    ("POST", "/v1/teams"): "team.created",
    ("PATCH", "/v1/teams/{team_id}"): "team.updated",
    ("DELETE", "/v1/teams/{team_id}"): "team.deleted",
    ("PUT", "/v1/teams/{team_id}/members/{user_id}"): "team.member_added",
    ("DELETE", "/v1/teams/{team_id}/members/{user_id}"): "team.member_removed",
    ("POST", "/v1/projects"): "project.created",
    ("PATCH", "/v1/projects/{project_id}"): "project.updated",
    ("DELETE", "/v1/projects/{project_id}"): "project.deleted",
    ("PUT", "/v1/projects/{project_id}/teams/{team_id}"): "project.team_linked",
    ("DELETE", "/v1/projects/{project_id}/teams/{team_id}"): "project.team_unlinked",
    ("POST", "/v1/projects/{project_id}/environments"): "environment.created",
    ("PATCH", ENVIRONMENT): "environment.updated",
    ("DELETE", ENVIRONMENT): "environment.deleted",
    ("POST", f"{ENVIRONMENT}/rotate-key"): "environment.key_rotated",
    ("POST", EXPERIMENT): "experiment.created",
    ("POST", f"{EXPERIMENT}/{{experiment_id}}/deploy"): "experiment.deployed",
    ("POST", "/v1/products"): "product.created",
    ("PATCH", "/v1/products/{product_id}"): "product.updated",
    ("DELETE", "/v1/products/{product_id}"): "product.deleted",
    ("POST", "/v1/orders"): "order.created",
    ("POST", "/v1/invitations"): "invitation.created",
    ("DELETE", "/v1/invitations/{invitation_id}"): "invitation.revoked",
    ("POST", "/v1/invitations/{invitation_id}/resend"): "invitation.resent",
    ("POST", "/v1/invitations/accept"): "invitation.accepted",
    ("POST", "/v1/invitations/decline"): "invitation.declined",
    ("POST", "/v1/registrations"): "registration.created",
    ("POST", "/v1/webhooks/hubspot"): "billing.payment_received",
    ("POST", "/v1/collect"): None,  # data ingest from web pages, not a change to the account
    # One route for every query and mutation: each mutation is audited by the service it calls,
    # as its REST twin is (test_graphql_mutations_are_audited_like_rest).
    ("POST", "/graphql"): None,
    ("POST", "/v1/admin/tenants"): "tenant.created",
    ("PATCH", "/v1/admin/tenants/{tenant_id}"): "tenant.updated",
    ("POST", "/v1/admin/tenants/{tenant_id}/disable"): "tenant.disabled",
    ("POST", "/v1/admin/tenants/{tenant_id}/enable"): "tenant.enabled",
    ("POST", "/v1/admin/users/{user_id}/disable"): "user.updated",
    ("POST", "/v1/admin/users/{user_id}/enable"): "user.updated",
    ("POST", "/v1/webhook-endpoints"): "webhook_endpoint.created",
    ("DELETE", "/v1" + WEBHOOK_ENDPOINT): "webhook_endpoint.deleted",
    ("POST", "/v1" + REDELIVER): "webhook_delivery.redelivered",
    ("POST", "/v1/admin/webhook-endpoints"): "webhook_endpoint.created",
    ("DELETE", "/v1/admin" + WEBHOOK_ENDPOINT): "webhook_endpoint.deleted",
    ("POST", "/v1/admin" + REDELIVER): "webhook_delivery.redelivered",
}
# Audited by their own services (`record_audit`) and exercised by their tests: the webhook
# endpoints', and linking an external identity (it needs a trusted issuer: test_federated_linking).
EXERCISED_ELSEWHERE = {route for route in AUDIT_ACTIONS if "webhook-endpoints" in route[1]} | {
    ("POST", "/v1/me/identities")
}
NOT_EXERCISED = {("POST", "/v1/collect"), ("POST", "/graphql")}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"hubspot_client_secret": HUBSPOT_SECRET})


@pytest.fixture
async def org(client: httpx.AsyncClient, mailbox: Mailbox, container: Container) -> Org:
    """An organization on Standard, the cheapest plan with the audit log."""
    made = await make_org(client, mailbox, container)
    await move_to_plan(container, made.tenant_id, "standard")
    return made


async def entries_of(container: Container, request_id: str) -> list[AuditEntry]:
    async with container.db.read() as session:
        found = await session.scalars(select(AuditEntry).where(AuditEntry.request_id == request_id))
        return list(found)


async def all_entries(container: Container) -> list[AuditEntry]:
    async with container.db.read() as session:
        return list(await session.scalars(select(AuditEntry)))


async def user_id_of(container: Container, email: str) -> str:
    async with container.db.read() as session:
        found = await session.scalar(select(User.id).where(User.email_key == email.lower()))
    assert found is not None
    return str(found)


def signed_hubspot(body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """HubSpot's v3 signature over the settings fixture's public URL."""
    raw = json.dumps(body).encode()
    timestamp = str(int(time.time() * 1000))
    message = b"POST" + b"http://testserver/v1/webhooks/hubspot" + raw + timestamp.encode()
    digest = hmac.new(HUBSPOT_SECRET.encode(), message, hashlib.sha256).digest()
    return raw, {
        "Content-Type": "application/json",
        "X-HubSpot-Signature-v3": base64.b64encode(digest).decode(),
        "X-HubSpot-Request-Timestamp": timestamp,
    }


ANY = "<any>"
CREATED = "<the id in the response>"


@dataclass
class Auditor:
    """Calls mutating routes and checks the entry each one wrote under its request id."""

    client: httpx.AsyncClient
    container: Container
    exercised: set[tuple[str, str]] = field(default_factory=set)
    last: AuditEntry | None = None

    async def call(
        self,
        method: str,
        template: str,
        *,
        actor: str | None,
        tenant: str | None,
        target: tuple[str, str | None],
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        content: bytes | None = None,
        **ids: str,
    ) -> httpx.Response:
        response = await self.client.request(
            method, template.format(**ids), headers=headers, json=body, content=content
        )
        assert response.is_success, f"{method} {template}: {response.text}"
        self.exercised.add((method, template))
        created = response.json().get("id") if response.content else None
        expected = [created if e == CREATED else e for e in (actor, tenant, *target)]
        action = AUDIT_ACTIONS[(method, template)]
        await self.container.detached.settle()  # what a route does after its answer
        entries = await entries_of(self.container, response.headers["x-request-id"])
        matching = [
            entry
            for entry in entries
            if entry.action == action
            and all(e in (f, ANY) for f, e in zip(_fields(entry), expected, strict=True))
        ]
        assert len(matching) == 1, (method, template, [_fields(entry) for entry in entries])
        [self.last] = matching
        return response

    @property
    def entry(self) -> AuditEntry:
        assert self.last is not None
        return self.last

    async def call_unaudited(
        self, method: str, template: str, *, body: dict[str, Any]
    ) -> httpx.Response:
        response = await self.client.request(method, template, json=body)
        assert response.is_success, response.text
        assert AUDIT_ACTIONS[(method, template)] is None
        assert await entries_of(self.container, response.headers["x-request-id"]) == []
        self.exercised.add((method, template))
        return response


def _text(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def _fields(entry: AuditEntry) -> tuple[str | None, ...]:
    """What an expectation names: actor, tenant, target type, target id."""
    found = (entry.actor_id, entry.tenant_id, entry.target_type, entry.target_id)
    return tuple(None if value is None else str(value) for value in found)


def mutating_routes(app: FastAPI) -> set[tuple[str, str]]:
    return {(method, route.path) for method, route in api_routes(app) if method in MUTATING}


def test_every_mutating_route_has_an_audit_action(container: Container) -> None:
    assert mutating_routes(create_app(container)) == set(AUDIT_ACTIONS)


async def test_every_mutating_route_writes_its_audit_entry(
    client: httpx.AsyncClient,
    container: Container,
    mailbox: Mailbox,
    org: Org,
    operator: Account,
) -> None:
    audit = Auditor(client, container)
    tenant = org.tenant_id
    owner, admin, editor, viewer = (org.members[r] for r in ("owner", "admin", "editor", "viewer"))

    await audit.call(
        "PATCH",
        "/v1/me",
        headers=viewer.headers(),
        body={"name": "Vee"},
        actor=viewer.user_id,
        tenant=None,
        target=("user", viewer.user_id),
    )
    second = await audit.call(
        "POST",
        "/v1/tenants",
        headers=bearer(owner.access_token),
        body={"name": "Second"},
        actor=owner.user_id,
        tenant=CREATED,
        target=("tenant", CREATED),
    )
    second_id = second.json()["id"]
    assert (_text(audit.entry.tenant_id), audit.entry.target_id) == (second_id, second_id)
    await audit_tenant_and_members(audit, org)
    team_id = await audit_teams(audit, org)
    await audit_projects(audit, org, team_id)
    await audit.call(
        "DELETE",
        "/v1/teams/{team_id}",
        headers=org.headers("admin"),
        team_id=team_id,
        actor=admin.user_id,
        tenant=tenant,
        target=("team", team_id),
    )
    await audit_products_and_orders(audit, org)
    await audit_invitations(audit, org, mailbox)
    await audit.call(
        "DELETE",
        "/v1/tenant",
        headers=owner.headers(second_id),
        actor=owner.user_id,
        tenant=second_id,
        target=("tenant", second_id),
    )
    await audit_identity(audit, org, mailbox)
    await audit_provider_plane(audit, operator)
    await audit.call_unaudited(
        "POST", "/v1/auth/refresh", body={"refresh_token": editor.refresh_token}
    )

    audited = {route for route, action in AUDIT_ACTIONS.items() if action is not None}
    assert audit.exercised | EXERCISED_ELSEWHERE | NOT_EXERCISED == set(AUDIT_ACTIONS)
    assert audited - EXERCISED_ELSEWHERE <= audit.exercised
    await assert_no_secrets(container, mailbox, org)


async def audit_tenant_and_members(audit: Auditor, org: Org) -> None:
    admin, viewer = org.members["admin"], org.members["viewer"]
    await audit.call(
        "PATCH",
        "/v1/tenant",
        headers=org.headers("admin"),
        body={"name": "Acme Inc"},
        actor=admin.user_id,
        tenant=org.tenant_id,
        target=("tenant", org.tenant_id),
    )
    await audit.call(
        "PATCH",
        "/v1/members/{user_id}",
        headers=org.headers("admin"),
        body={"role": "editor"},
        user_id=viewer.user_id,
        actor=admin.user_id,
        tenant=org.tenant_id,
        target=("user", viewer.user_id),
    )
    await audit.call(
        "PATCH",
        "/v1/members/{user_id}",
        headers=org.headers("admin"),
        body={"role": "viewer"},
        user_id=viewer.user_id,
        actor=admin.user_id,
        tenant=org.tenant_id,
        target=("user", viewer.user_id),
    )


async def audit_teams(audit: Auditor, org: Org) -> str:
    admin, editor = org.members["admin"], org.members["editor"]
    as_admin: dict[str, Any] = {
        "headers": org.headers("admin"),
        "actor": admin.user_id,
        "tenant": org.tenant_id,
    }
    created = await audit.call(
        "POST", "/v1/teams", body={"name": "Core"}, target=("team", CREATED), **as_admin
    )
    team_id: str = created.json()["id"]
    team = ("team", team_id)
    await audit.call(
        "PATCH",
        "/v1/teams/{team_id}",
        body={"name": "Core 2"},
        team_id=team_id,
        target=team,
        **as_admin,
    )
    member = "/v1/teams/{team_id}/members/{user_id}"
    for method in ("PUT", "DELETE"):
        await audit.call(
            method, member, team_id=team_id, user_id=editor.user_id, target=team, **as_admin
        )
    return team_id


async def audit_projects(audit: Auditor, org: Org, team_id: str) -> None:
    editor, admin = org.members["editor"], org.members["admin"]
    as_editor: dict[str, Any] = {
        "headers": org.headers("editor"),
        "actor": editor.user_id,
        "tenant": org.tenant_id,
    }
    created = await audit.call(
        "POST", "/v1/projects", body={"name": "App"}, target=("project", CREATED), **as_editor
    )
    project_id: str = created.json()["id"]
    project = ("project", project_id)
    await audit.call(
        "PATCH",
        "/v1/projects/{project_id}",
        body={"name": "App 2"},
        project_id=project_id,
        target=project,
        **as_editor,
    )
    link = "/v1/projects/{project_id}/teams/{team_id}"
    for method in ("PUT", "DELETE"):
        await audit.call(
            method, link, project_id=project_id, team_id=team_id, target=project, **as_editor
        )
    environments = "/v1/projects/{project_id}/environments"
    staging = await audit.call(
        "POST",
        environments,
        body={"name": "Staging"},
        project_id=project_id,
        target=("environment", CREATED),
        **as_editor,
    )
    env_id = staging.json()["id"]
    ids: dict[str, Any] = {"project_id": project_id, "environment_id": env_id}
    environment = ("environment", env_id)
    await audit.call(
        "PATCH", ENVIRONMENT, body={"name": "Stage"}, target=environment, **ids, **as_editor
    )
    await audit.call(
        "POST",
        f"{ENVIRONMENT}/rotate-key",
        headers=org.headers("admin"),
        actor=admin.user_id,
        tenant=org.tenant_id,
        target=environment,
        **ids,
    )
    await audit.call("DELETE", ENVIRONMENT, target=environment, **ids, **as_editor)
    listed = await audit.client.get(
        environments.format(project_id=project_id), headers=org.headers("viewer")
    )
    development = next(e["id"] for e in listed.json()["items"] if e["slug"] == "development")
    experiment = await audit.call(
        "POST",
        EXPERIMENT,
        body={"name": "Bigger button"},
        project_id=project_id,
        target=("experiment", CREATED),
        **as_editor,
    )
    experiment_id = experiment.json()["id"]
    await audit.call(
        "POST",
        f"{EXPERIMENT}/{{experiment_id}}/deploy",
        body={"environment_id": development},
        project_id=project_id,
        experiment_id=experiment_id,
        target=("experiment", experiment_id),
        **as_editor,
    )
    await audit.call(
        "DELETE", "/v1/projects/{project_id}", project_id=project_id, target=project, **as_editor
    )


async def audit_products_and_orders(audit: Auditor, org: Org) -> None:
    as_editor: dict[str, Any] = {
        "headers": org.headers("editor"),
        "actor": org.members["editor"].user_id,
        "tenant": org.tenant_id,
    }
    created = await audit.call(
        "POST",
        "/v1/products",
        body={"name": "Widget", "price_cents": 250, "currency": "EUR"},
        target=("product", CREATED),
        **as_editor,
    )
    product_id = created.json()["id"]
    product = ("product", product_id)
    await audit.call(
        "PATCH",
        "/v1/products/{product_id}",
        body={"price_cents": 300},
        product_id=product_id,
        target=product,
        **as_editor,
    )
    await audit.call(
        "POST",
        "/v1/orders",
        body={"lines": [{"product_id": product_id, "quantity": 2}]},
        target=("order", CREATED),
        **as_editor,
    )
    await audit.call(
        "DELETE", "/v1/products/{product_id}", product_id=product_id, target=product, **as_editor
    )


async def audit_invitations(audit: Auditor, org: Org, mailbox: Mailbox) -> None:
    admin = org.members["admin"]
    as_admin: dict[str, Any] = {
        "headers": org.headers("admin"),
        "actor": admin.user_id,
        "tenant": org.tenant_id,
    }

    async def invite(email: str) -> str:
        created = await audit.call(
            "POST",
            "/v1/invitations",
            body={"email": email, "role": "viewer"},
            target=("invitation", CREATED),
            **as_admin,
        )
        invitation_id: str = created.json()["id"]
        return invitation_id

    revoked = await invite("newbie@example.com")
    invitation = ("invitation", revoked)
    await audit.call(
        "POST",
        "/v1/invitations/{invitation_id}/resend",
        body={},
        invitation_id=revoked,
        target=invitation,
        **as_admin,
    )
    await audit.call(
        "DELETE",
        "/v1/invitations/{invitation_id}",
        invitation_id=revoked,
        target=invitation,
        **as_admin,
    )
    for verb in ("decline", "accept"):  # one seat left on the free plan
        invitee = await register(audit.client, mailbox, f"{verb}@example.com")
        invitation_id = await invite(invitee.email)
        token = await mailed_invitation_token(mailbox, invitee.email)
        await audit.call(
            "POST",
            f"/v1/invitations/{verb}",
            headers=bearer(invitee.access_token),
            body={"token": token},
            actor=invitee.user_id,
            tenant=org.tenant_id,
            target=("invitation", invitation_id),
        )
    joined = await user_id_of(audit.container, "accept@example.com")
    await audit.call(
        "DELETE", "/v1/members/{user_id}", user_id=joined, target=("user", joined), **as_admin
    )


async def audit_identity(audit: Auditor, org: Org, mailbox: Mailbox) -> None:
    email = "sam@example.com"
    await audit.call(
        "POST",
        "/v1/auth/signup",
        body={"email": email, "password": PASSWORD, "name": "Sam"},
        actor=None,
        tenant=None,
        target=("user", ANY),
    )
    sam = await user_id_of(audit.container, email)
    await audit.call(
        "POST",
        "/v1/auth/email-code",
        body={"email": email},
        actor=None,
        tenant=None,
        target=("user", sam),
    )
    code = await mailbox.code_for(email, count=2)
    await audit.call(
        "POST",
        "/v1/auth/confirm",
        body={"email": email, "code": code},
        actor=sam,
        tenant=None,
        target=("user", sam),
    )
    owner = org.members["owner"]
    signed_in = await audit.call(
        "POST",
        "/v1/auth/login",
        body={"email": owner.email, "password": PASSWORD},
        actor=owner.user_id,
        tenant=None,
        target=("user", owner.user_id),
    )
    await audit.call(
        "POST",
        "/v1/auth/logout",
        body={"refresh_token": signed_in.json()["refresh_token"]},
        actor=owner.user_id,
        tenant=None,
        target=("session", ANY),
    )
    editor = org.members["editor"]
    await audit.call(
        "POST",
        "/v1/auth/password/change",
        headers=bearer(editor.access_token),
        body={"current_password": PASSWORD, "password": NEW_PASSWORD},
        actor=editor.user_id,
        tenant=None,
        target=("user", editor.user_id),
    )
    viewer = org.members["viewer"]
    mailed = len(mailbox.messages(viewer.email))
    await audit.call(
        "POST",
        "/v1/auth/password/forgot",
        body={"email": viewer.email},
        actor=None,
        tenant=None,
        target=("user", viewer.user_id),
    )
    code = await mailbox.code_for(viewer.email, count=mailed + 1)
    assert "password reset" in mailbox.messages(viewer.email)[mailed].subject
    await audit.call(
        "POST",
        "/v1/auth/password/reset",
        body={"email": viewer.email, "code": code, "password": NEW_PASSWORD},
        actor=viewer.user_id,
        tenant=None,
        target=("user", viewer.user_id),
    )


async def audit_provider_plane(audit: Auditor, operator: Account) -> None:
    registration = await audit.call(
        "POST",
        "/v1/registrations",
        body={
            "tenant_name": "Globex",
            "email": "hank@example.com",
            "name": "Hank",
            "password": PASSWORD,
            "plan": "basic",
        },
        actor=None,
        tenant=None,
        target=("registration", CREATED),
    )
    assert audit.entry.target_id == registration.json()["id"]
    raw, headers = signed_hubspot({"eventId": "evt-1", "email": "pat@example.com", "plan": "basic"})
    paid = await audit.call(
        "POST", "/v1/webhooks/hubspot", content=raw, headers=headers, **_system_on(ANY)
    )
    paid_tenant = paid.json()["tenant_id"]
    assert (_text(audit.entry.tenant_id), audit.entry.target_id) == (paid_tenant, paid_tenant)
    as_operator: dict[str, Any] = {
        "headers": bearer(operator.access_token),
        "actor": operator.user_id,
    }
    created = await audit.call(
        "POST",
        "/v1/admin/tenants",
        headers=as_operator["headers"],
        body={"name": "Initech", "plan": "basic", "owner_email": "bill@example.com"},
        actor=operator.user_id,  # the operator who asked for it, as its owner's membership says
        tenant=CREATED,
        target=("tenant", CREATED),
    )
    tenant_id = created.json()["id"]
    assert (_text(audit.entry.tenant_id), audit.entry.target_id) == (tenant_id, tenant_id)
    made = await entries_of(audit.container, created.headers["x-request-id"])
    [membership] = [
        entry
        for entry in made
        if entry.action == "membership.created" and _text(entry.tenant_id) == tenant_id
    ]
    assert _text(membership.actor_id) == operator.user_id
    ids: dict[str, Any] = {
        "tenant_id": tenant_id,
        "tenant": tenant_id,
        "target": ("tenant", tenant_id),
    }
    await audit.call(
        "PATCH", "/v1/admin/tenants/{tenant_id}", body={"name": "Initrode"}, **ids, **as_operator
    )
    for verb in ("disable", "enable"):
        await audit.call("POST", f"/v1/admin/tenants/{{tenant_id}}/{verb}", **ids, **as_operator)
    owner_id = await user_id_of(audit.container, "bill@example.com")
    for verb in ("disable", "enable"):
        await audit.call(
            "POST",
            f"/v1/admin/users/{{user_id}}/{verb}",
            user_id=owner_id,
            tenant=None,
            target=("user", owner_id),
            **as_operator,
        )


def _system_on(tenant: str) -> dict[str, Any]:
    """What a payment provisions, with no actor, to a tenant it makes."""
    return {"actor": None, "tenant": tenant, "target": ("tenant", tenant)}


async def assert_no_secrets(container: Container, mailbox: Mailbox, org: Org) -> None:
    """No password, mailed code, token or webhook secret anywhere in the entries' data."""
    codes = {
        m.group(1) for mail in mailbox.messages() for m in re.finditer(r"\b(\d{6})\b", mail.text)
    }
    tokens = {
        token
        for account in org.members.values()
        for token in (account.access_token, account.refresh_token)
    }
    invitation_tokens = {
        m.group(1)
        for mail in mailbox.messages()
        for m in re.finditer(r"token=([A-Za-z0-9_-]+)", mail.text)
    }
    forbidden = {PASSWORD, NEW_PASSWORD, OPERATOR_PASSWORD, "whsec_"} | codes | tokens
    forbidden |= invitation_tokens
    for entry in await all_entries(container):
        data = json.dumps(entry.data)
        leaked = [secret for secret in forbidden if secret in data]
        assert not leaked, (entry.action, entry.data)


async def test_graphql_mutations_are_audited_like_rest(
    client: httpx.AsyncClient, container: Container, org: Org
) -> None:
    viewer = org.members["viewer"]
    response = await client.post(
        "/graphql",
        headers={**bearer(viewer.access_token), "User-Agent": "GraphQLTest/1.0"},
        json={"query": 'mutation { updateMe(name: "Vee") { id } }'},
    )
    assert response.status_code == 200, response.text
    assert "errors" not in response.json(), response.text
    [entry] = await entries_of(container, response.headers["x-request-id"])
    assert (entry.action, _text(entry.actor_id), entry.target_id) == (
        "user.updated",
        viewer.user_id,
        viewer.user_id,
    )
    assert entry.user_agent == "GraphQLTest/1.0"


def test_secret_looking_data_is_never_stored() -> None:
    data = {
        "url": "https://example.com/hook",
        "password": PASSWORD,
        "refresh_token": "abc",
        "client_key": "ck_123",
        "code": "123456",
        "nested": {"secret": "s", "kept": "whsec_abc", "list": ["whsec_x", 1]},
        "role": "admin",
    }
    assert scrub(data) == {
        "url": "https://example.com/hook",
        "nested": {"kept": "[redacted]", "list": ["[redacted]", 1]},
        "role": "admin",
    }


async def test_a_failed_login_is_audited_for_an_existing_account_only(
    client: httpx.AsyncClient, container: Container, org: Org
) -> None:
    owner = org.members["owner"]
    wrong = await client.post(
        "/v1/auth/login", json={"email": owner.email, "password": "not the password"}
    )
    assert_problem(wrong, 401, "invalid_credentials")
    await container.detached.settle()  # written after the answer, so both answers cost alike
    [entry] = await entries_of(container, wrong.headers["x-request-id"])
    assert (entry.action, entry.actor_id, entry.tenant_id) == ("auth.login_failed", None, None)
    assert (entry.target_type, entry.target_id, entry.data) == ("user", owner.user_id, {})
    unknown = await client.post(
        "/v1/auth/login", json={"email": "nobody@example.com", "password": "a password"}
    )
    assert_problem(unknown, 401, "invalid_credentials")
    await container.detached.settle()
    assert await entries_of(container, unknown.headers["x-request-id"]) == []


async def test_entries_carry_the_client_ip_user_agent_and_request_id(
    client: httpx.AsyncClient, org: Org
) -> None:
    """Without trusted proxies `X-Forwarded-For` is ignored: the IP is the peer's."""
    headers = {
        **org.headers("admin"),
        "X-Forwarded-For": "203.0.113.9",
        "User-Agent": "AuditTest/1.0",
        "X-Request-ID": "req-audit-1",
    }
    changed = await client.patch("/v1/tenant", headers=headers, json={"name": "Acme 2"})
    assert changed.status_code == 200, changed.text
    assert changed.headers["x-request-id"] == "req-audit-1"
    newest = await newest_entry(client, org.headers("admin"))
    assert newest["action"] == "tenant.updated"
    assert (newest["ip"], newest["user_agent"], newest["request_id"]) == (
        "127.0.0.1",
        "AuditTest/1.0",
        "req-audit-1",
    )
    assert newest["data"] == {"name": "Acme 2"}

    generated = await client.patch(
        "/v1/tenant", headers=org.headers("owner"), json={"name": "Acme 3"}
    )
    newest = await newest_entry(client, org.headers("admin"))
    assert newest["request_id"] == generated.headers["x-request-id"]
    assert newest["actor_id"] == org.members["owner"].user_id


async def newest_entry(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get(AUDIT_LOG, headers=headers, params={"limit": 1})
    assert response.status_code == 200, response.text
    item: dict[str, Any] = response.json()["items"][0]
    return item


@pytest.fixture
async def proxied_client(
    settings: Settings, clock: ShiftableClock
) -> AsyncIterator[httpx.AsyncClient]:
    """A server behind a trusted proxy at 127.0.0.1 (the test client's address)."""
    trusted = [ipaddress.ip_network("127.0.0.0/8")]
    container = Container(settings.model_copy(update={"trusted_proxies": trusted}), clock=clock)
    await container.start(migrate=False)
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
    await container.stop()


async def test_a_trusted_proxy_names_the_client_ip(
    proxied_client: httpx.AsyncClient, mailbox: Mailbox, container: Container
) -> None:
    ann = await register(proxied_client, mailbox, "ann@example.com")
    await move_to_plan(container, ann.tenant_id, "standard")
    headers = {**ann.headers(), "X-Forwarded-For": "198.51.100.7, 127.0.0.2"}
    changed = await proxied_client.patch("/v1/tenant", headers=headers, json={"name": "Ann Co"})
    assert changed.status_code == 200, changed.text
    assert (await newest_entry(proxied_client, ann.headers()))["ip"] == "198.51.100.7"


async def test_the_tenant_log_is_for_its_admins_and_shows_that_tenant_only(
    client: httpx.AsyncClient, mailbox: Mailbox, org: Org
) -> None:
    outsider = await register(client, mailbox, "outsider@example.com")
    await assert_guarded(client, Route("GET", AUDIT_LOG, "admin"), org=org, outsider=outsider)
    other = await create_organization(client, outsider, "Other")
    renamed = await client.patch(
        "/v1/tenant", headers=outsider.headers(other), json={"name": "Other 2"}
    )
    assert renamed.status_code == 200
    for role in ("owner", "admin"):
        response = await client.get(AUDIT_LOG, headers=org.headers(role), params={"limit": 200})
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        assert items and {item["tenant_id"] for item in items} == {org.tenant_id}
        assert not any(item["action"].startswith("auth.") for item in items)


async def test_platform_admins_read_every_tenant_and_the_user_pool(
    client: httpx.AsyncClient, mailbox: Mailbox, org: Org, operator: Account
) -> None:
    outsider = await register(client, mailbox, "outsider@example.com")
    assert_problem(await client.get(ADMIN_AUDIT_LOG), 401, "missing_token")
    for account in (outsider, org.members["owner"]):
        refused = await client.get(ADMIN_AUDIT_LOG, headers=bearer(account.access_token))
        assert_problem(refused, 403, "platform_admin_required")

    as_operator = bearer(operator.access_token)
    everything = await client.get(ADMIN_AUDIT_LOG, headers=as_operator, params={"limit": 200})
    assert everything.status_code == 200, everything.text
    tenants = {item["tenant_id"] for item in everything.json()["items"]}
    assert {org.tenant_id, outsider.tenant_id, None} <= tenants
    one = await client.get(
        ADMIN_AUDIT_LOG, headers=as_operator, params={"tenant_id": outsider.tenant_id}
    )
    assert {item["tenant_id"] for item in one.json()["items"]} == {outsider.tenant_id}


async def test_filters_and_newest_first_cursors(
    client: httpx.AsyncClient, org: Org, operator: Account, clock: ShiftableClock
) -> None:
    headers = org.headers("admin")
    started = clock.now()
    for name in ("One", "Two", "Three"):
        clock.advance(1)
        renamed = await client.patch("/v1/tenant", headers=headers, json={"name": name})
        assert renamed.status_code == 200, renamed.text
    ids = await all_pages(client, headers, AUDIT_LOG)
    everything = (await client.get(AUDIT_LOG, headers=headers, params={"limit": 200})).json()
    assert len(ids) > 3
    assert ids == [item["id"] for item in everything["items"]]
    times = [item["created_at"] for item in everything["items"]]
    assert times == sorted(times, reverse=True)

    async def query(**params: Any) -> list[dict[str, Any]]:
        response = await client.get(AUDIT_LOG, headers=headers, params=params)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    renames = await query(action="tenant.updated")
    assert [item["data"]["name"] for item in renames] == ["Three", "Two", "One"]
    both = await query(action=["tenant.updated", "membership.created"])
    assert {item["action"] for item in both} == {"tenant.updated", "membership.created"}
    admin_id = org.members["admin"].user_id
    assert [item["id"] for item in await query(actor_id=admin_id)] == [
        item["id"] for item in renames
    ]
    owner_id = org.members["owner"].user_id
    about_owner = await query(target_id=owner_id)
    assert about_owner and {item["target_id"] for item in about_owner} == {owner_id}
    middle = renames[1]["created_at"]
    since = await query(since=middle, action="tenant.updated")
    assert [item["id"] for item in since] == [renames[0]["id"], renames[1]["id"]]
    until = await query(until=middle, action="tenant.updated")
    assert [item["id"] for item in until] == [renames[2]["id"]]
    assert await query(until=started.isoformat(), action="tenant.updated") == []
    naive = await client.get(AUDIT_LOG, headers=headers, params={"since": "2026-01-01T00:00:00"})
    assert naive.status_code == 422
    assert_problem(
        await client.get(AUDIT_LOG, headers=headers, params={"cursor": "x"}), 400, "invalid_cursor"
    )

    as_operator = bearer(operator.access_token)
    params: dict[str, str | int] = {
        "tenant_id": org.tenant_id,
        "action": "tenant.updated",
        "limit": 2,
    }
    first = (await client.get(ADMIN_AUDIT_LOG, headers=as_operator, params=params)).json()
    params["cursor"] = first["next_cursor"]
    rest = (await client.get(ADMIN_AUDIT_LOG, headers=as_operator, params=params)).json()
    assert rest["next_cursor"] is None
    assert [item["id"] for item in first["items"] + rest["items"]] == [
        item["id"] for item in renames
    ]


@pytest.mark.parametrize(
    "instant",
    [
        "0001-01-01T00:00:00+01:00",  # before datetime.min once in UTC: was a 500
        "0001-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "1970-01-01T00:30:00+01:00",
        "9999-12-31T23:59:59-01:00",  # after datetime.max once in UTC: was a 500
        "9999-12-31T00:00:00Z",
        "9999-12-30T00:00:01Z",
    ],
)
async def test_instants_out_of_range_are_refused_on_both_logs(
    client: httpx.AsyncClient, org: Org, operator: Account, instant: str
) -> None:
    for route, headers in (
        (AUDIT_LOG, org.headers("admin")),
        (ADMIN_AUDIT_LOG, bearer(operator.access_token)),
    ):
        for name in ("since", "until"):
            response = await client.get(route, headers=headers, params={name: instant})
            assert_problem(response, 422, "validation_error")


async def test_the_bounds_themselves_are_accepted(
    client: httpx.AsyncClient, org: Org, operator: Account
) -> None:
    """Both logs read their filters through one dependency; the platform log shows it."""
    bounds = {"since": "1970-01-01T00:00:00Z", "until": "9999-12-29T23:00:00-01:00"}
    response = await client.get(
        ADMIN_AUDIT_LOG, headers=bearer(operator.access_token), params=bounds
    )
    assert response.status_code == 200, response.text
    assert response.json()["items"]


async def test_products_of_a_silo_tenant_are_audited_in_the_core_database(
    client: httpx.AsyncClient, container: Container, mailbox: Mailbox
) -> None:
    carol = await register(client, mailbox, "carol@example.com")
    await container.plan_changes.change_plan(
        tenant_id=uuid.UUID(carol.tenant_id), plan=container.plans.get("premium"), actor_id=None
    )
    assert await container.tenant_data.store_of(uuid.UUID(carol.tenant_id)) is not container.db
    created = await client.post(
        "/v1/products",
        headers=carol.headers(),
        json={"name": "Silo widget", "price_cents": 1, "currency": "EUR"},
    )
    assert created.status_code == 201, created.text
    [entry] = await entries_of(container, created.headers["x-request-id"])
    assert (entry.action, entry.target_id) == ("product.created", created.json()["id"])
    assert str(entry.tenant_id) == carol.tenant_id


async def test_entries_older_than_the_retention_are_purged(
    container: Container, org: Org, clock: ShiftableClock
) -> None:
    old = len(await all_entries(container))
    assert old > 0
    clock.advance(timedelta(days=container.settings.audit_retention_days).total_seconds() + 60)
    async with container.db.transaction() as session:
        await record_audit(
            session,
            action="team.created",
            tenant_id=uuid.UUID(org.tenant_id),
            actor_id=None,
            target_type="team",
            target_id=str(uuid.uuid4()),
            now=clock.now(),
        )
    await container._purge_expired_rows()
    [kept] = await all_entries(container)
    assert kept.action == "team.created"
    assert kept.ip is None and kept.request_id is None  # written outside any request


async def test_the_purge_deletes_in_batches(container: Container) -> None:
    now = datetime.now(UTC)
    async with container.db.transaction() as session:
        for days in (400, 390, 380, 370, 366, 10):
            await record_audit(
                session,
                action="auth.login",
                tenant_id=None,
                actor_id=None,
                target_type=None,
                target_id=None,
                now=now - timedelta(days=days),
            )
    deleted = await purge_audit_entries(container.db, before=now - timedelta(days=365), batch=2)
    assert deleted == 5
    [kept] = await all_entries(container)
    assert kept.created_at == now - timedelta(days=10)


async def test_the_log_is_read_only_on_a_plan_with_it_and_kept_through_a_downgrade(
    client: httpx.AsyncClient, mailbox: Mailbox, operator: Account
) -> None:
    """Free and Basic lack `audit_log`: 403 naming the feature and Standard. Entries are
    written whatever the plan, so an upgrade shows what happened before it; an override
    switches the feature on or off from the next request."""
    ann = await register(client, mailbox, "ann@example.com")
    renamed = await client.patch("/v1/tenant", headers=ann.headers(), json={"name": "On Free"})
    assert renamed.status_code == 200
    refused = await client.get(AUDIT_LOG, headers=ann.headers())
    assert_problem(refused, 403, "feature_not_in_plan")
    assert (refused.json()["feature"], refused.json()["required_plan"]) == ("audit_log", "standard")
    assert "Standard" in refused.json()["detail"]

    await override_features(client, operator, ann.tenant_id, audit_log=True)
    shown = await client.get(AUDIT_LOG, headers=ann.headers(), params={"action": "tenant.updated"})
    assert shown.status_code == 200, shown.text
    assert {"name": "On Free"} in [item["data"] for item in shown.json()["items"]]

    await put_on_plan(client, operator, ann.tenant_id, "standard")
    await override_features(client, operator, ann.tenant_id, audit_log=False)
    off = await client.get(AUDIT_LOG, headers=ann.headers())
    assert_problem(off, 403, "feature_not_in_plan")
    assert "switched off" in off.json()["detail"]

    await override_features(client, operator, ann.tenant_id, audit_log=None)
    assert (await client.get(AUDIT_LOG, headers=ann.headers())).status_code == 200
    await put_on_plan(client, operator, ann.tenant_id, "basic")  # a downgrade
    assert_problem(await client.get(AUDIT_LOG, headers=ann.headers()), 403, "feature_not_in_plan")
