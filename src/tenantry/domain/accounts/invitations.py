"""Invitations (SPEC §7): an admin invites an email address with a role; the invitee accepts
or declines with the mailed single-use token while signed in with that address. Only a keyed
hash of the token is stored, and the status is derived from the row's timestamps."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Self, overload

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.clock import Clock
from tenantry.domain.accounts.capabilities import INVITE
from tenantry.domain.accounts.roles import ROLE_RANK, TenantActor, may_grant, role_to_grant
from tenantry.domain.accounts.tenants import lock_tenant
from tenantry.domain.events.outbox import Event, record_events
from tenantry.domain.idempotency import KeyClaim, StoredResponse, answer_once
from tenantry.domain.identity.secrets import SecretHasher, new_token
from tenantry.domain.identity.throttle import LockoutPolicy, reserve_mail
from tenantry.domain.identity.toolkit import email_key
from tenantry.domain.mail.outbox import MailOutbox
from tenantry.domain.pagination import Page, PageRequest, make_page, paginate
from tenantry.domain.plans.catalog import PlanCatalog
from tenantry.domain.readmodel import ReadModel
from tenantry.errors import Conflict, Gone, NotFound, PermissionDenied, Unauthenticated
from tenantry.storage.database import Database
from tenantry.storage.epoch import bump_access_epoch
from tenantry.storage.models import Invitation, Membership, Tenant, User
from tenantry.storage.upsert import insert_on_conflict

DEFAULT_LIFETIME = timedelta(days=7)
MIN_LIFETIME = timedelta(seconds=1)
MAX_LIFETIME = timedelta(days=30)
TOKEN_PREFIX = "inv"  # noqa: S105 (a prefix, not a secret)


def _settlement(invitation: Invitation) -> str | None:
    """`accepted`, `declined` or `revoked` once the invitation is settled, else None."""
    if invitation.accepted_at is not None:
        return "accepted"
    if invitation.declined_at is not None:
        return "declined"
    if invitation.revoked_at is not None:
        return "revoked"
    return None


def invitation_status(invitation: Invitation, *, now: datetime) -> str:
    """What the invitation is at `now`: settled, else `expired` or `pending`."""
    if settled := _settlement(invitation):
        return settled
    return "expired" if invitation.expires_at <= now else "pending"


def _unsettled() -> ColumnElement[bool]:
    return (
        Invitation.accepted_at.is_(None)
        & Invitation.declined_at.is_(None)
        & Invitation.revoked_at.is_(None)
    )


def _pending_at(now: datetime) -> ColumnElement[bool]:
    return _unsettled() & (Invitation.expires_at > now)


@dataclass(frozen=True)
class InvitationAllowance:
    """How many invitation mails (creations and resends) may go out per window: to one
    address from all tenants, and from one tenant to all addresses."""

    per_recipient: LockoutPolicy
    per_tenant: LockoutPolicy


class InvitationView(ReadModel):
    id: uuid.UUID
    email: str
    role: str
    status: str
    expires_at: datetime
    created_at: datetime

    @classmethod
    def of(cls, invitation: Invitation, *, now: datetime, **extra: str) -> Self:
        """The invitation as it stands at `now`; `extra` fills a subclass's fields."""
        return cls(
            id=invitation.id,
            email=invitation.email,
            role=invitation.role,
            status=invitation_status(invitation, now=now),
            expires_at=invitation.expires_at,
            created_at=invitation.created_at,
            **extra,
        )


class InvitationIssued(InvitationView):
    """The one response that shows the token, in `accept_url`: only its hash is stored."""

    accept_url: str


class InvitationPreview(ReadModel):
    tenant_name: str
    inviter_name: str | None
    email: str
    role: str
    expires_at: datetime
    status: str


@dataclass(frozen=True)
class Joined:
    tenant_id: uuid.UUID
    role: str


class Invitations:
    """Issuing, settling and previewing invitations. Locks are taken in one order everywhere
    (tenant, then invitation, then membership), so concurrent requests wait, never deadlock."""

    def __init__(
        self,
        *,
        db: Database,
        mail: MailOutbox,
        hasher: SecretHasher,
        clock: Clock,
        public_url: str,
        plans: PlanCatalog,
        allowance: InvitationAllowance,
    ) -> None:
        self._db = db
        self._mail = mail
        self._hasher = hasher
        self._clock = clock
        self._public_url = public_url
        self._plans = plans
        self._allowance = allowance

    async def listing(self, *, actor: TenantActor, page: PageRequest) -> Page[InvitationView]:
        """The tenant's invitations, oldest first, each with its status now; admins."""
        actor.require(INVITE)
        statement = paginate(
            select(Invitation).where(Invitation.tenant_id == actor.tenant_id),
            page,
            created_at=Invitation.created_at,
            row_id=Invitation.id,
        )
        async with self._db.read() as session:
            rows = list(await session.scalars(statement))
        found = make_page(rows, page, key=lambda invitation: (invitation.created_at, invitation.id))
        now = self._clock.now()
        items = [InvitationView.of(invitation, now=now) for invitation in found.items]
        return Page(items, found.next_cursor)

    @overload
    async def create(
        self,
        *,
        actor: TenantActor,
        email: str,
        role: str,
        lifetime: timedelta = ...,
        key: None = None,
    ) -> InvitationIssued: ...

    @overload
    async def create(
        self,
        *,
        actor: TenantActor,
        email: str,
        role: str,
        lifetime: timedelta = ...,
        key: KeyClaim[InvitationIssued],
    ) -> InvitationIssued | StoredResponse: ...

    async def create(
        self,
        *,
        actor: TenantActor,
        email: str,
        role: str,
        lifetime: timedelta = DEFAULT_LIFETIME,
        key: KeyClaim[InvitationIssued] | None = None,
    ) -> InvitationIssued | StoredResponse:
        """Invite `email` as `role` and mail the invitee the accept URL. Only owners invite
        owners; the plan's member limit counts pending invitations as members. With an
        Idempotency-Key, a repeat gets the first answer back as a `StoredResponse`."""
        async with self._db.transaction() as session:
            return await answer_once(
                session,
                key,
                lambda: self._create(
                    session, actor=actor, email=email, role=role, lifetime=lifetime
                ),
                now=self._clock.now(),
            )

    async def _create(
        self,
        session: AsyncSession,
        *,
        actor: TenantActor,
        email: str,
        role: str,
        lifetime: timedelta,
    ) -> InvitationIssued:
        _require_may_grant(actor, role)
        tenant = await lock_tenant(session, actor.tenant_id)
        now = self._clock.now()
        await self._admit(session, tenant=tenant, email=email, now=now)
        invitation = Invitation(
            id=uuid.uuid4(),
            tenant_id=tenant.id,
            email=email,
            email_key=email_key(email),
            role=role,
            inviter_id=actor.user_id,
            created_at=now,
        )
        session.add(invitation)
        issued = await self._issue(session, invitation, lifetime=lifetime, now=now)
        data = {**_about(invitation), "role": role}
        event = Event("invitation.created", tenant.id, actor.user_id, data)
        await record_events(session, [event], now=now)
        return issued

    async def resend(
        self,
        *,
        actor: TenantActor,
        invitation_id: uuid.UUID,
        lifetime: timedelta = DEFAULT_LIFETIME,
    ) -> InvitationIssued:
        """Mail a pending or expired invitation again under a new token and expiry; the old
        token stops working at once. A revived invitation takes a seat again."""
        actor.require(INVITE)
        async with self._db.transaction() as session:
            tenant = await lock_tenant(session, actor.tenant_id)
            invitation = await _locked_in_tenant(session, actor=actor, invitation_id=invitation_id)
            _require_may_grant(actor, invitation.role)
            _refuse_settled(invitation)
            now = self._clock.now()
            await self._admit(
                session, tenant=tenant, email=invitation.email, now=now, excluding=invitation.id
            )
            issued = await self._issue(session, invitation, lifetime=lifetime, now=now)
            event = Event("invitation.resent", tenant.id, actor.user_id, _about(invitation))
            await record_events(session, [event], now=now)
        return issued

    async def revoke(self, *, actor: TenantActor, invitation_id: uuid.UUID) -> None:
        """Withdraw an invitation that is pending or expired."""
        actor.require(INVITE)
        async with self._db.transaction() as session:
            invitation = await _locked_in_tenant(session, actor=actor, invitation_id=invitation_id)
            _refuse_settled(invitation)
            await _revoke(session, [invitation], actor_id=actor.user_id, now=self._clock.now())

    async def preview(self, *, token: str) -> InvitationPreview:
        """What the token holder is invited to, for the landing page before signing in."""
        async with self._db.read() as session:
            invitation = await self._by_token(session, token)
            tenant_name, inviter_name = await _names(session, invitation)
        return InvitationPreview(
            tenant_name=tenant_name,
            inviter_name=inviter_name,
            email=invitation.email,
            role=invitation.role,
            expires_at=invitation.expires_at,
            status=invitation_status(invitation, now=self._clock.now()),
        )

    async def accept(self, *, user_id: uuid.UUID, token: str) -> Joined:
        """Join the tenant with the invited role, in a transaction of its own. An invitation
        grants on its inviter's authority: if the inviter may no longer grant the role (no
        member any more, a lower role, a disabled account), the invitation is revoked, that
        is committed, and the answer is Conflict `invitation_revoked`. The inviter is read under
        the tenant lock that evictions and role changes take, so a membership is never
        created after the inviter's eviction committed. The invitation row is locked and the
        membership key is unique, so raced accepts create one membership."""
        async with self._db.transaction() as session:
            invitation = await self._claim(session, user_id=user_id, token=token)
            now = self._clock.now()
            if await _inviter_may_grant(session, invitation):
                return await _join(session, invitation, user_id=user_id, now=now)
            await _revoke(session, [invitation], actor_id=None, now=now)
        raise _settled("revoked")

    async def decline(self, *, user_id: uuid.UUID, token: str) -> None:
        async with self._db.transaction() as session:
            invitation = await self._claim(session, user_id=user_id, token=token)
            now = self._clock.now()
            invitation.declined_at = invitation.updated_at = now
            event = Event("invitation.declined", invitation.tenant_id, user_id, _about(invitation))
            await record_events(session, [event], now=now)

    async def _admit(
        self,
        session: AsyncSession,
        *,
        tenant: Tenant,
        email: str,
        now: datetime,
        excluding: uuid.UUID | None = None,
    ) -> None:
        """Refuse a member, a second live invitation for one address, and a seat over the
        plan's member limit. Runs under the tenant lock, so the counts hold until commit."""
        key = email_key(email)
        member = await session.scalar(
            select(Membership.id)
            .join(User, User.id == Membership.user_id)
            .where(Membership.tenant_id == tenant.id, User.email_key == key)
        )
        if member is not None:
            raise _already_member()
        others = [Invitation.id != excluding] if excluding else []
        pending = select(Invitation.id).where(
            Invitation.tenant_id == tenant.id, _pending_at(now), *others
        )
        if await session.scalar(pending.where(Invitation.email_key == key).limit(1)):
            raise Conflict(
                "This address already has a pending invitation; resend it instead.",
                code="invitation_pending",
            )
        members = select(Membership.id).where(Membership.tenant_id == tenant.id)
        seats = await session.scalar(
            select(func.count()).select_from(members.union_all(pending).subquery())
        )
        self._plans.of_tenant(tenant.plan).check_limit("members", used=seats or 0)

    async def _issue(
        self, session: AsyncSession, invitation: Invitation, *, lifetime: timedelta, now: datetime
    ) -> InvitationIssued:
        """Give the invitation a new token and expiry, and queue the mail that carries it,
        once the recipient's and the tenant's invitation mail allowances admit it."""
        await self._reserve_mail(session, invitation, now=now)
        token = new_token(TOKEN_PREFIX)
        invitation.token_hash = self._hasher.digest(token)
        invitation.expires_at = now + lifetime
        invitation.updated_at = now
        accept_url = f"{self._public_url}/invite?token={token}"
        tenant_name, inviter_name = await _names(session, invitation)
        self._mail.enqueue(
            session,
            to=invitation.email,
            template="invitation",
            context={
                "tenant_name": _one_line(tenant_name),
                "inviter_name": _one_line(inviter_name) if inviter_name else None,
                "role": invitation.role,
                "accept_url": accept_url,
                "expires_at": invitation.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
            },
        )
        return InvitationIssued.of(invitation, now=now, accept_url=accept_url)

    async def _reserve_mail(
        self, session: AsyncSession, invitation: Invitation, *, now: datetime
    ) -> None:
        """Count the mail against its address (from every tenant, so that many tenants
        cannot flood one address) and against the tenant; Throttled `too_many_emails` past either,
        which rolls back the counts, the new token and the mail."""
        await reserve_mail(
            session,
            key=f"invitations to {invitation.email_key}",
            policy=self._allowance.per_recipient,
            now=now,
            detail="Too many invitations were mailed to this address. Try again later.",
        )
        await reserve_mail(
            session,
            key=f"invitations from {invitation.tenant_id}",
            policy=self._allowance.per_tenant,
            now=now,
            detail="This tenant has mailed too many invitations. Try again later.",
        )

    async def _by_token(
        self, session: AsyncSession, token: str, *, lock: bool = False
    ) -> Invitation:
        # A keyed hash of 256 random bits: an equality lookup on it leaks nothing that helps
        # to guess or forge a token.
        statement = select(Invitation).where(Invitation.token_hash == self._hasher.digest(token))
        if lock:
            statement = statement.with_for_update().execution_options(populate_existing=True)
        invitation = await session.scalar(statement)
        if invitation is None:
            raise _not_found()
        return invitation

    async def _claim(self, session: AsyncSession, *, user_id: uuid.UUID, token: str) -> Invitation:
        """The pending invitation behind `token`, locked, if it was sent to the caller's
        confirmed address. Looked up again under the lock: a resend may have replaced the
        token, or another request settled the invitation, while this one waited."""
        found = await self._by_token(session, token)
        await lock_tenant(session, found.tenant_id)
        invitation = await self._by_token(session, token, lock=True)
        user = await session.get(User, user_id)
        if user is None:
            raise Unauthenticated("The access token is revoked.", code="token_revoked")
        if not user.email_verified or user.email_key != invitation.email_key:
            raise PermissionDenied(
                "Sign in with the confirmed address this invitation was sent to.",
                code="invitation_email_mismatch",
            )
        _refuse_settled(invitation)
        if invitation.expires_at <= self._clock.now():
            raise Gone("This invitation has expired.", code="invitation_expired")
        return invitation


async def _join(
    session: AsyncSession, invitation: Invitation, *, user_id: uuid.UUID, now: datetime
) -> Joined:
    joined = await session.scalar(
        insert_on_conflict(session, Membership)
        .values(
            id=uuid.uuid4(),
            tenant_id=invitation.tenant_id,
            user_id=user_id,
            role=invitation.role,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=[Membership.tenant_id, Membership.user_id])
        .returning(Membership.id)
    )
    if joined is None:
        raise _already_member()
    invitation.accepted_at = invitation.updated_at = now
    invitation.accepted_by = user_id
    membership = {"user_id": str(user_id), "role": invitation.role}
    events = [
        Event("invitation.accepted", invitation.tenant_id, user_id, _about(invitation)),
        Event("membership.created", invitation.tenant_id, user_id, membership),
    ]
    await record_events(session, events, now=now)
    await bump_access_epoch(session)
    return Joined(invitation.tenant_id, invitation.role)


def _require_may_grant(actor: TenantActor, role: str) -> None:
    """Admins invite admins, editors and viewers; owners also invite owners."""
    actor.require(role_to_grant(role))


async def revoke_beyond_grant(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    inviter_id: uuid.UUID,
    role: str | None,
    actor_id: uuid.UUID,
    now: datetime,
) -> None:
    """Revoke the unsettled invitations `inviter_id` sent in the tenant that `role`, their
    role from now on (None: evicted or left), may not grant, each with an
    `invitation.revoked` event and its audit entry. For evictions and role changes, in
    their transaction and under the tenant lock that accepting takes too."""
    beyond = [invited for invited in ROLE_RANK if not may_grant(role, invited)]
    if not beyond:
        return
    invitations = await session.scalars(
        select(Invitation)
        .where(
            Invitation.tenant_id == tenant_id,
            Invitation.inviter_id == inviter_id,
            Invitation.role.in_(beyond),
            _unsettled(),
        )
        .with_for_update()
    )
    await _revoke(session, list(invitations), actor_id=actor_id, now=now)


async def _inviter_may_grant(session: AsyncSession, invitation: Invitation) -> bool:
    """Whether the inviter is, now, an enabled member whose role may grant the invited one."""
    role = await session.scalar(
        select(Membership.role)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.tenant_id == invitation.tenant_id,
            Membership.user_id == invitation.inviter_id,
            User.disabled_at.is_(None),
        )
    )
    return may_grant(role, invitation.role)


async def _revoke(
    session: AsyncSession,
    invitations: list[Invitation],
    *,
    actor_id: uuid.UUID | None,
    now: datetime,
) -> None:
    for invitation in invitations:
        invitation.revoked_at = invitation.updated_at = now
    events = [
        Event("invitation.revoked", invitation.tenant_id, actor_id, _about(invitation))
        for invitation in invitations
    ]
    await record_events(session, events, now=now)


async def _locked_in_tenant(
    session: AsyncSession, *, actor: TenantActor, invitation_id: uuid.UUID
) -> Invitation:
    invitation = await session.scalar(
        select(Invitation)
        .where(Invitation.id == invitation_id, Invitation.tenant_id == actor.tenant_id)
        .with_for_update()
    )
    if invitation is None:
        raise _not_found()
    return invitation


async def _names(session: AsyncSession, invitation: Invitation) -> tuple[str, str | None]:
    """The tenant's name and the inviter's (their address if unnamed; None once deleted)."""
    tenant_name, inviter_name, inviter_email = (
        await session.execute(
            select(Tenant.name, User.name, User.email)
            .select_from(Tenant)
            .outerjoin(User, User.id == invitation.inviter_id)
            .where(Tenant.id == invitation.tenant_id)
        )
    ).one()
    return tenant_name, inviter_name or inviter_email


def _refuse_settled(invitation: Invitation) -> None:
    """Conflict `invitation_accepted`, `invitation_declined` or `invitation_revoked`."""
    if settled := _settlement(invitation):
        raise _settled(settled)


def _settled(settlement: str) -> Conflict:
    return Conflict(f"This invitation was {settlement}.", code=f"invitation_{settlement}")


def _about(invitation: Invitation) -> dict[str, str]:
    return {"invitation_id": str(invitation.id), "email": invitation.email}


def _one_line(text: str) -> str:
    """Mail subjects are headers: names typed by users must not carry line breaks into them."""
    return " ".join(text.split())


def _not_found() -> NotFound:
    return NotFound("No such invitation.", code="invitation_not_found")


def _already_member() -> Conflict:
    return Conflict("This person is already a member of the tenant.", code="already_member")
