"""The promises the data must keep whatever happened to the processes writing it, checked
with SQL against the database. Each check returns what breaks its promise (empty: kept)."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.accounts.environments import DEFAULT_ENVIRONMENTS
from tenantry.domain.accounts.onboarding import FIRST_PROJECT_NAME
from tenantry.domain.webhooks import signing
from tenantry.storage.models import (
    DomainEvent,
    Environment,
    HubspotEvent,
    Invitation,
    MailMessage,
    Membership,
    Project,
    Registration,
    Tenant,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)
from tests.support.journeys import Ledger
from tests.support.mailbox import ReceivedMail
from tests.support.receiver import Received

FIRST_ENVIRONMENTS = sorted(slug for _name, slug in DEFAULT_ENVIRONMENTS)


def _owned_by(user_id: Any) -> ColumnElement[bool]:
    return exists().where(
        Membership.tenant_id == Tenant.id,
        Membership.user_id == user_id,
        Membership.role == "owner",
    )


async def workspaces(session: AsyncSession) -> list[str]:
    """Every confirmed user: one personal tenant they own, holding one first project with
    its two environments and nothing else."""
    broken = []
    counted = await session.execute(
        select(User.email, func.count(Tenant.id))
        .outerjoin(Tenant, Tenant.personal_owner_id == User.id)
        .where(User.email_verified.is_(True))
        .group_by(User.id, User.email)
    )
    broken += [f"{email}: {n} personal tenants" for email, n in counted if n != 1]
    unowned = await session.scalars(
        select(Tenant.name).where(Tenant.kind == "personal", ~_owned_by(Tenant.personal_owner_id))
    )
    broken += [f"personal tenant {name!r} without its owner" for name in unowned]
    projects = await session.execute(
        select(Tenant.id, Tenant.name, Project.name, Project.id)
        .outerjoin(Project, Project.tenant_id == Tenant.id)
        .where(Tenant.kind == "personal")
    )
    by_tenant: defaultdict[tuple[object, str], list[tuple[str | None, object]]] = defaultdict(list)
    for tenant_id, tenant, project, project_id in projects:
        by_tenant[tenant_id, tenant].append((project, project_id))
    for (_id, tenant), found in by_tenant.items():
        if [name for name, _id in found] != [FIRST_PROJECT_NAME]:
            broken.append(f"{tenant!r} has projects {[name for name, _id in found]}")
        elif (slugs := await _environments(session, found[0][1])) != FIRST_ENVIRONMENTS:
            broken.append(f"{tenant!r}: first project environments {slugs}")
    return broken


async def _environments(session: AsyncSession, project_id: object) -> list[str]:
    slugs = await session.scalars(
        select(Environment.slug).where(Environment.project_id == project_id)
    )
    return sorted(slugs)


async def ownership(session: AsyncSession) -> list[str]:
    """No tenant without an owner. A reservation (`provisioning`) is the one ownerless row
    the provisioning saga writes, and its recovery sweep deletes it once its run is dead; a
    failed registration keeps no tenant at all. So, once the sweep has run: none."""
    owned = exists().where(Membership.tenant_id == Tenant.id, Membership.role == "owner")
    ownerless = await session.execute(select(Tenant.name, Tenant.status).where(~owned))
    broken = [f"tenant {name!r} ({status}) has no owner" for name, status in ownerless]
    reserved = await session.scalars(select(Tenant.name).where(Tenant.status != "active"))
    return broken + [f"tenant {name!r} is not active" for name in reserved]


async def acknowledged(session: AsyncSession, ledger: Ledger) -> list[str]:
    """Every write a client was answered 2xx for is in the database."""
    verified = set(await session.scalars(select(User.email).where(User.email_verified)))
    broken = [f"confirmed {email} is not" for email in ledger.confirmed - verified]
    registrations = {str(row.id): row for row in await session.scalars(select(Registration))}
    broken += [f"registration {id_} lost" for id_ in ledger.registrations.keys() - registrations]
    for id_ in ledger.completed_registrations:
        row = registrations.get(id_)
        if row is None or row.status != "completed" or row.tenant_id is None:
            broken.append(f"completed registration {id_} is not")
        elif not await _owns(session, row.user_id, row.tenant_id):
            broken.append(f"registration {id_}: its registrant does not own its tenant")
    claims = {row.event_id: row for row in await session.scalars(select(HubspotEvent))}
    for event_id, tenant_id in ledger.payments.items():
        claim = claims.get(event_id)
        if claim is None or str(claim.tenant_id) != tenant_id or claim.user_id is None:
            broken.append(f"HubSpot event {event_id} answered {tenant_id}, stored {claim}")
        elif not await _owns(session, claim.user_id, claim.tenant_id):
            broken.append(f"HubSpot event {event_id}: its payer does not own its tenant")
    invitations = {str(id_) for id_ in await session.scalars(select(Invitation.id))}
    lost = set(ledger.invitations.values()) - invitations
    broken += [f"invitation {id_} lost" for id_ in lost]
    members = await session.execute(
        select(Membership.tenant_id, User.email, Membership.role).join(
            User, User.id == Membership.user_id
        )
    )
    joined = {(str(tenant), email) for tenant, email, role in members if role == "editor"}
    broken += [f"membership {pair} lost" for pair in ledger.memberships - joined]
    return broken


async def _owns(session: AsyncSession, user_id: object, tenant_id: object) -> bool:
    owner = await session.scalar(
        select(Membership.id).where(
            Membership.tenant_id == tenant_id,
            Membership.user_id == user_id,
            Membership.role == "owner",
        )
    )
    status = await session.scalar(select(Tenant.status).where(Tenant.id == tenant_id))
    return owner is not None and status == "active"


async def no_duplicates(
    session: AsyncSession, *, companies: Iterable[str], organization: str
) -> list[str]:
    """A retried request did its work once: one tenant per HubSpot eventId (each paid for a
    company of its own name), one per registration, one invitation per Idempotency-Key (each
    sent to an address of its own) and so one membership."""
    names = Counter(await session.scalars(select(Tenant.name)))
    broken = [f"{names[name]} tenants for {name!r}" for name in companies if names[name] != 1]
    registered = await session.execute(
        select(Registration.tenant_name, Registration.tenant_id, Registration.status)
    )
    completed: Counter[str] = Counter()
    tenants: Counter[object] = Counter()
    for name, tenant_id, status in registered:
        completed[name] += status == "completed"
        tenants[tenant_id] += tenant_id is not None
        if status != "completed" and tenant_id is not None:
            broken.append(f"registration for {name!r} {status} but holds a tenant")
    broken += [
        f"{names[name]} tenants for {n} completed registrations of {name!r}"
        for name, n in completed.items()
        if names[name] != n
    ]
    broken += [f"tenant {id_} serves {n} registrations" for id_, n in tenants.items() if n > 1]
    invited = await session.execute(
        select(Invitation.email_key, func.count())
        .where(Invitation.tenant_id == uuid.UUID(organization))
        .group_by(Invitation.email_key)
    )
    return broken + [f"{n} invitations for {email}" for email, n in invited if n != 1]


async def mail_delivered(session: AsyncSession, received: list[ReceivedMail]) -> list[str]:
    """Each outbox row sent at least once; a repeat only ever the same row again; nothing
    mailed that was not committed, and no mail to an address without an account."""
    rows = {f"<{row.id}@tenantry>": row for row in await session.scalars(select(MailMessage))}
    broken = [f"mail {id_} is {row.status}" for id_, row in rows.items() if row.status != "sent"]
    first: dict[str, ReceivedMail] = {}
    for mail in received:
        earlier = first.setdefault(mail.message_id, mail)
        if mail.message_id not in rows:
            broken.append(f"mail {mail.message_id} to {mail.to} has no outbox row")
        elif earlier != mail:
            broken.append(f"mail {mail.message_id} resent with other content")
    broken += [f"mail {id_} never arrived" for id_ in rows.keys() - first.keys()]
    accounts = set(await session.scalars(select(User.email_key)))
    strangers = {mail.to for mail in received} - accounts
    return broken + [f"mail to {to}, who has no account" for to in strangers]


async def events_delivered(session: AsyncSession, received: list[Received]) -> list[str]:
    """Every event committed after the endpoint subscribed was fanned out and delivered at
    least once; a repeat is the same event (same `webhook-id`, same body)."""
    subscribed = await session.scalar(select(func.min(WebhookEndpoint.created_at)))
    assert subscribed is not None, "no endpoint subscribed"
    events = {signing.message_id(row.id): row for row in await session.scalars(select(DomainEvent))}
    due = {id_ for id_, event in events.items() if event.created_at >= subscribed}
    broken = [f"event {id_} not dispatched" for id_, e in events.items() if e.dispatched_at is None]
    unsettled = await session.scalars(
        select(WebhookDelivery.event_id).where(WebhookDelivery.status != "delivered")
    )
    broken += [f"delivery of event {id_} not delivered" for id_ in unsettled]
    first: dict[str, bytes] = {}
    for request in received:
        if len(request.body) != int(request.headers["content-length"]):
            continue  # cut off by a kill mid-send: not a delivery
        msg_id = request.headers["webhook-id"]
        if msg_id not in events:
            broken.append(f"event {msg_id} delivered but never committed")
        elif first.setdefault(msg_id, request.body) != request.body:
            broken.append(f"event {msg_id} resent with another body")
    return broken + [f"event {id_} never arrived" for id_ in due - first.keys()]
