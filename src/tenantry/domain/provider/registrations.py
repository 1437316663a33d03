"""Self-service tenant registration (SPEC §8). A registration waits for its owner to prove the
email address with the mailed code; the confirmation then provisions the tenant on the chosen
plan (see provisioning.py) with the owner, whose account and personal workspace the
confirmation itself has just made. The answer never says whether the address had an account.
An Idempotency-Key is claimed in the registering transaction, scoped by the address (the route
is anonymous): a retry gets the first answer back and registers nothing.
A failed provisioning leaves nothing behind but the registration, `failed`, with its reason."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Literal

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.audit import record_audit
from tenantry.domain.events.outbox import Event, record_events
from tenantry.domain.idempotency import KeyClaim, StoredResponse, answer_once
from tenantry.domain.identity.passwords import check_password_policy
from tenantry.domain.identity.sessions import ClientInfo
from tenantry.domain.identity.signup import CONFIRM
from tenantry.domain.identity.throttle import (
    LockoutPolicy,
    check_registration,
    reserve_registration,
)
from tenantry.domain.identity.toolkit import IdentityToolkit, email_key
from tenantry.domain.plans.catalog import Plan, PlanCatalog
from tenantry.domain.provider.owners import add_owner
from tenantry.domain.provider.provisioning import Provisioner, ProvisioningFailed, Superseded
from tenantry.domain.readmodel import ReadModel
from tenantry.errors import InvalidInput, NotFound, Throttled
from tenantry.storage.models import Registration, Tenant, User

log = structlog.get_logger("tenantry.registrations")
# How long the owner has to confirm; the mailed code itself lives shorter, and a new one can
# be asked for (POST /v1/auth/email-code) within this time.
REGISTRATION_TTL = timedelta(hours=24)
EXPIRED = "expired: the owner did not confirm the email address in time"
ACCEPTED = 202
# Keys of the anonymous route are scoped by a uuid5 of the address under this namespace: no
# account id (a uuid4) can be one, and a stranger can replay an answer only by sending the
# same address, key and body (password included) as its registrant.
KEY_SCOPE = uuid.UUID("8f4c0a52-1d6b-5f0e-9a8e-6a3c2b7d4e10")


class RegistrationView(ReadModel):
    id: uuid.UUID
    status: Literal["pending", "completed", "failed"]
    tenant_name: str
    plan: str
    tenant_id: uuid.UUID | None
    failure_reason: str | None
    created_at: datetime


@dataclass(frozen=True)
class _RegistrationOrder:
    registration_id: uuid.UUID
    owner_id: uuid.UUID
    tenant_name: str
    plan: Plan

    @property
    def actor_id(self) -> uuid.UUID:
        return self.owner_id

    async def claim(self, session: AsyncSession, tenant_id: uuid.UUID, now: datetime) -> None:
        claimed = await session.execute(
            update(Registration)
            .where(
                Registration.id == self.registration_id,
                Registration.status == "pending",
                Registration.tenant_id.is_(None),
            )
            .values(tenant_id=tenant_id, updated_at=now)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise Superseded(str(self.registration_id))

    async def finish(self, session: AsyncSession, tenant: Tenant, now: datetime) -> None:
        await add_owner(
            session,
            tenant_id=tenant.id,
            user_id=self.owner_id,
            now=now,
            make_default=True,
            actor_id=self.owner_id,
        )
        await session.execute(
            update(Registration)
            .where(Registration.id == self.registration_id)
            .values(status="completed", updated_at=now)
        )
        data = {"registration_id": str(self.registration_id), "plan": self.plan.id}
        await record_events(
            session, [Event("registration.completed", tenant.id, self.owner_id, data)], now=now
        )

    async def release(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        await session.execute(
            update(Registration)
            .where(Registration.id == self.registration_id, Registration.tenant_id == tenant_id)
            .values(tenant_id=None)
        )


@dataclass(frozen=True)
class RegistrationCaps:
    """How many registrations may wait for their code: per address (counted exactly, from
    the open rows) and per client address (started per window; a registration stays open
    `REGISTRATION_TTL`, so a window that long caps the open ones too)."""

    open_per_address: int
    per_client: LockoutPolicy


@dataclass(frozen=True)
class _Request:
    """What a registration asks for, its password already hashed."""

    tenant_name: str
    email: str
    name: str
    password_hash: str
    plan: Plan
    client: ClientInfo


class Registrations:
    def __init__(
        self,
        *,
        identity: IdentityToolkit,
        plans: PlanCatalog,
        provisioner: Provisioner,
        caps: RegistrationCaps,
    ) -> None:
        self._d = identity
        self._plans = plans
        self._provisioner = provisioner
        self._caps = caps

    async def register(
        self,
        *,
        tenant_name: str,
        email: str,
        name: str,
        password: str,
        plan_id: str,
        client: ClientInfo,
        key: KeyClaim[RegistrationView] | None = None,
    ) -> RegistrationView | StoredResponse:
        """Record the registration and mail its code. A new (or never-confirmed) account gets
        `password` once confirmed; an existing account keeps its own. With an Idempotency-Key
        (scoped by `key_scope(email)`), a repeat gets the first answer back. The allowances are
        checked before the password is hashed, so a throttled caller costs no Argon2 work; the mail
        is counted with the registration, so a repeat is not. Only self-service plans may be
        registered (InvalidInput `plan_not_self_service`), and only so many may wait for their code
        per address and per client (Throttled `too_many_registrations`)."""
        plan = self._plans.get(plan_id)
        if not plan.self_service:
            raise InvalidInput(
                f"The {plan.name} plan is not open to self-service registration; contact sales.",
                code="plan_not_self_service",
            )
        check_password_policy(password, email=email)
        async with self._d.mail_transaction() as session:
            await self._d.count_hashing(session, client)
            await self._d.check_mailing(session, email, client)
            await self._check_caps(session, email=email, client=client)
        password_hash = await self._d.passwords.hash(password)
        request = _Request(tenant_name, email, name, password_hash, plan, client)
        async with self._d.mail_transaction() as session:
            now = self._d.clock.now()
            return await answer_once(
                session,
                key,
                partial(self._record, session, request, now=now),
                now=now,
                status_code=ACCEPTED,
            )

    async def _record(
        self, session: AsyncSession, request: _Request, *, now: datetime
    ) -> RegistrationView:
        """The registration, its audit entry and its code, in the caller's transaction."""
        email, client = request.email, request.client
        await self._d.count_mailing(session, email, client)
        await reserve_registration(session, policy=self._caps.per_client, ip=client.ip, now=now)
        user = await self._d.ensure_user(session, email=email, name=request.name)
        await session.execute(select(User.id).where(User.id == user.id).with_for_update())
        await self._refuse_past_open_cap(session, user_id=user.id, now=now)
        new_account = not user.email_verified
        if new_account:
            await session.execute(
                update(User)
                .where(User.id == user.id, User.email_verified.is_(False))
                .values(password_hash=request.password_hash, name=request.name, updated_at=now)
            )
        registration = Registration(
            id=uuid.uuid4(),
            user_id=user.id,
            tenant_name=request.tenant_name,
            plan=request.plan.id,
            status="pending",
            failure_reason=None,
            tenant_id=None,
            expires_at=now + REGISTRATION_TTL,
            created_at=now,
            updated_at=now,
        )
        session.add(registration)
        await record_audit(
            session,
            action="registration.created",
            tenant_id=None,
            actor_id=None,
            target_type="registration",
            target_id=str(registration.id),
            data={"plan": request.plan.id, "user_id": str(user.id)},
            now=now,
        )
        await self._d.send_code(
            session,
            user=user,
            purpose=CONFIRM,
            template="registration_code",
            password_hash=request.password_hash if new_account else None,
            context={"tenant_name": request.tenant_name, "plan_name": request.plan.name},
        )
        return _view(registration, now=now)

    async def _check_caps(self, session: AsyncSession, *, email: str, client: ClientInfo) -> None:
        """Refuse before any hashing what `register` would refuse for its caps."""
        now = self._d.clock.now()
        await check_registration(session, policy=self._caps.per_client, ip=client.ip, now=now)
        user_id = await session.scalar(select(User.id).where(User.email_key == email_key(email)))
        if user_id is not None:
            await self._refuse_past_open_cap(session, user_id=user_id, now=now)

    async def _refuse_past_open_cap(
        self, session: AsyncSession, *, user_id: uuid.UUID, now: datetime
    ) -> None:
        """Throttled `too_many_registrations` while the address has its cap of registrations
        waiting for the code, until the oldest of them expires. Under the user row's lock in
        `register`, so parallel registrations cannot pass the cap."""
        open_until = list(
            await session.scalars(
                select(Registration.expires_at)
                .where(
                    Registration.user_id == user_id,
                    Registration.status == "pending",
                    Registration.tenant_id.is_(None),
                    Registration.expires_at > now,
                )
                .order_by(Registration.expires_at)
            )
        )
        if len(open_until) >= self._caps.open_per_address:
            raise Throttled(
                "Too many registrations are waiting for this address's code. Confirm one "
                "with the mailed code, or try again later.",
                retry_after=int((open_until[0] - now).total_seconds()) + 1,
                code="too_many_registrations",
            )

    async def get(self, registration_id: uuid.UUID) -> RegistrationView:
        async with self._d.db.read() as session:
            registration = await session.get(Registration, registration_id)
        if registration is None:
            raise NotFound("No such registration.", code="registration_not_found")
        return _view(registration, now=self._d.clock.now())

    async def complete_pending(self, user_id: uuid.UUID) -> None:
        """Provision the tenants of `user_id`'s waiting registrations; the owner has just
        proven the email address."""
        now = self._d.clock.now()
        async with self._d.db.read() as session:
            waiting = list(
                await session.scalars(
                    select(Registration).where(
                        Registration.user_id == user_id,
                        Registration.status == "pending",
                        Registration.tenant_id.is_(None),
                        Registration.expires_at > now,
                    )
                )
            )
        for registration in waiting:
            await self._complete(registration)

    async def _complete(self, registration: Registration) -> None:
        order = _RegistrationOrder(
            registration_id=registration.id,
            owner_id=registration.user_id,
            tenant_name=registration.tenant_name,
            plan=self._plans.of_tenant(registration.plan),
        )
        try:
            await self._provisioner.provision(order)
        except Superseded:
            return  # a raced confirmation is completing it
        except ProvisioningFailed as failure:
            await self._fail(registration, failure)

    async def _fail(self, registration: Registration, failure: ProvisioningFailed) -> None:
        reason = f"{failure.step}: {failure.reason}"
        async with self._d.db.transaction() as session:
            now = self._d.clock.now()
            await session.execute(
                update(Registration)
                .where(Registration.id == registration.id, Registration.status == "pending")
                .values(status="failed", failure_reason=reason, updated_at=now)
            )
            data = {"registration_id": str(registration.id), "reason": reason}
            event = Event("registration.failed", None, registration.user_id, data)
            await record_events(session, [event], now=now)
        log.warning("registration_failed", registration_id=str(registration.id), reason=reason)


def key_scope(email: str) -> uuid.UUID:
    """Whose Idempotency-Keys a registration's are: its address's."""
    return uuid.uuid5(KEY_SCOPE, email_key(email))


def _view(registration: Registration, *, now: datetime) -> RegistrationView:
    status, reason = registration.status, registration.failure_reason
    if status == "pending" and registration.tenant_id is None and registration.expires_at <= now:
        status, reason = "failed", EXPIRED
    return RegistrationView(
        id=registration.id,
        status=status,
        tenant_name=registration.tenant_name,
        plan=registration.plan,
        tenant_id=registration.tenant_id if status == "completed" else None,
        failure_reason=reason,
        created_at=registration.created_at,
    )
