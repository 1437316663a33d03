"""Which account an external identity (issuer, subject) acts as. On first sight an identity
gets a new account of its own, never an existing one: whoever controls an issuer's `email`
claim would otherwise take over the local account with that address, a platform admin's
included. An existing account is linked only by its holder, from a signed-in session, as
Keycloak's first broker login does. See docs/federation.md."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.audit import record_audit
from tenantry.domain.identity.activation import activate_user
from tenantry.domain.identity.federation import ExternalClaims, FederatedTokens
from tenantry.domain.identity.notices import IDENTITY_LINKED
from tenantry.domain.identity.toolkit import IdentityToolkit
from tenantry.errors import Conflict, DomainError, InvalidInput, PermissionDenied, Unauthenticated
from tenantry.storage.models import ExternalIdentity, User
from tenantry.storage.upsert import insert_on_conflict


@dataclass(frozen=True)
class ExternalUser:
    user_id: uuid.UUID
    email: str


class LinkedIdentity(BaseModel):
    """An external identity that signs in as the account (REST returns it as it is)."""

    issuer: str
    subject: str
    created_at: datetime


def account_exists() -> Conflict:
    return Conflict(
        "An account with this email address already exists. Sign in to it and link this "
        "identity from your account (POST /v1/me/identities).",
        code="account_exists",
    )


class _LinkedElsewhere(Exception):
    """The identity was linked to another account while this first sight created one."""


class ExternalAccounts:
    def __init__(self, *, toolkit: IdentityToolkit, federated: FederatedTokens) -> None:
        self._d = toolkit
        self._federated = federated

    async def resolve(self, claims: ExternalClaims) -> ExternalUser:
        """The account linked to (issuer, subject), created and onboarded on first sight.
        Raced first sights of one identity all get the one account; a first sight whose
        address already has an account is refused with `account_exists`."""
        async with self._d.db.read() as session:
            linked = await _linked_user(session, claims.issuer, claims.subject)
        if linked is not None:
            return linked
        email = self._assertable_email(claims)
        try:
            return await self._create(claims, email)
        except _LinkedElsewhere:
            async with self._d.db.read() as session:
                linked = await _linked_user(session, claims.issuer, claims.subject)
            assert linked is not None
            return linked

    def _assertable_email(self, claims: ExternalClaims) -> str:
        if not claims.email:
            raise Unauthenticated(
                "The token carries no email to create an account with.",
                code="external_email_required",
            )
        if not claims.email_verified:
            raise Unauthenticated(
                "The issuer has not verified this token's email.", code="external_email_unverified"
            )
        if not self._federated.trusted_issuer(claims.issuer).may_assert(claims.email):
            raise Unauthenticated(
                "This issuer may not vouch for addresses on that domain.",
                code="external_email_domain_not_allowed",
            )
        return claims.email

    async def _create(self, claims: ExternalClaims, email: str) -> ExternalUser:
        """A new account and its link, in one transaction. Raced first sights meet on unique
        keys: the loser's account insert yields, and it finds the winner's link, or none when
        the address belonged to an account before."""
        async with self._d.db.transaction() as session:
            now = self._d.clock.now()
            created = await self._d.create_user(session, email=email)
            if created is not None:
                user = await session.get_one(User, created)
                await activate_user(
                    session, user=user, password_hash=None, now=now, faults=self._d.faults
                )
                await _insert_link(session, claims, user_id=created, now=now)
            winner = await _linked_user(session, claims.issuer, claims.subject)
            if created is not None and (winner is None or winner.user_id != created):
                raise _LinkedElsewhere()
        if winner is None:
            raise account_exists()
        return winner

    async def link(
        self, *, user_id: uuid.UUID, session_id: uuid.UUID | None, token: str
    ) -> LinkedIdentity:
        """Link the identity of `token` (from a trusted issuer) to the signed-in account, at
        its holder's request: audited and mailed to the account's address."""
        if session_id is None:
            raise PermissionDenied(
                "Sign in to your account itself to link an identity to it.",
                code="local_session_required",
            )
        claims = await self._verified(token)
        async with self._d.db.transaction() as session:
            user = await session.get_one(User, user_id)
            if user.is_platform_admin:
                raise PermissionDenied(
                    "Platform admins sign in with Tenantry only.",
                    code="platform_admin_not_linkable",
                )
            now = self._d.clock.now()
            inserted = await _insert_link(session, claims, user_id=user_id, now=now)
            linked = await session.get_one(ExternalIdentity, (claims.issuer, claims.subject))
            if linked.user_id != user_id:
                raise Conflict(
                    "This identity is linked to another account.", code="identity_already_linked"
                )
            if inserted:
                await self._announce(session, user, claims, now=now)
        return LinkedIdentity(
            issuer=linked.issuer, subject=linked.subject, created_at=linked.created_at
        )

    async def _verified(self, token: str) -> ExternalClaims:
        try:
            return await self._federated.verify_any(token)
        except DomainError as error:
            raise InvalidInput(
                "The token is not a valid token of a trusted issuer.", code="invalid_external_token"
            ) from error

    async def _announce(
        self, session: AsyncSession, user: User, claims: ExternalClaims, *, now: datetime
    ) -> None:
        data = {"issuer": claims.issuer, "subject": claims.subject}
        await record_audit(
            session,
            action="identity.linked",
            tenant_id=None,
            actor_id=user.id,
            target_type="user",
            target_id=str(user.id),
            data=data,
            now=now,
        )
        self._d.notices.send(
            session,
            IDENTITY_LINKED,
            to=user.email,
            now=now,
            detail=f"Service: {claims.issuer} (its account {claims.subject})",
        )

    async def identities(self, *, user_id: uuid.UUID) -> list[LinkedIdentity]:
        async with self._d.db.read() as session:
            rows = await session.scalars(
                select(ExternalIdentity)
                .where(ExternalIdentity.user_id == user_id)
                .order_by(ExternalIdentity.created_at, ExternalIdentity.issuer)
            )
            return [
                LinkedIdentity(issuer=row.issuer, subject=row.subject, created_at=row.created_at)
                for row in rows
            ]


async def _insert_link(
    session: AsyncSession, claims: ExternalClaims, *, user_id: uuid.UUID, now: datetime
) -> bool:
    """Link (issuer, subject) to `user_id` unless it is linked already; True if it was not."""
    inserted = await session.execute(
        insert_on_conflict(session, ExternalIdentity)
        .values(issuer=claims.issuer, subject=claims.subject, user_id=user_id, created_at=now)
        .on_conflict_do_nothing(index_elements=["issuer", "subject"])
        .returning(ExternalIdentity.user_id)
    )
    return inserted.first() is not None


async def _linked_user(session: AsyncSession, issuer: str, subject: str) -> ExternalUser | None:
    row = (
        await session.execute(
            select(ExternalIdentity.user_id, User.email)
            .join(User, User.id == ExternalIdentity.user_id)
            .where(ExternalIdentity.issuer == issuer, ExternalIdentity.subject == subject)
        )
    ).one_or_none()
    return None if row is None else ExternalUser(row.user_id, row.email)
