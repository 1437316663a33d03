"""The provisioning order of a tenant a platform admin creates (SPEC §8 `POST
/v1/admin/tenants`): its owner's account and membership in the activating transaction, and the
request's Idempotency-Key claimed with the reservation and answered with the activation, so a
repeat never provisions a second tenant. A request that dies in between leaves a reservation
(the recovery sweep deletes it) and an unanswered claim, which a retry takes over once its
lease has run out; should the dead request wake up, its activation finds the claim gone and
rolls back."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.idempotency import Claim, KeyClaim, StoredResponse, key_in_progress
from tenantry.domain.identity.toolkit import IdentityToolkit
from tenantry.domain.plans.catalog import Plan, PlanCatalog
from tenantry.domain.provider.admin_details import TenantDetails, read_tenant_details
from tenantry.domain.provider.owners import add_owner, provision_owner_account
from tenantry.domain.provider.provisioning import Superseded
from tenantry.errors import Conflict
from tenantry.storage.models import Tenant

CREATED = 201


class KeyTaken(Superseded):
    """The key was used before: the first answer to replay, or the conflict to report."""

    def __init__(self, outcome: StoredResponse | Conflict) -> None:
        super().__init__(getattr(outcome, "code", "replay"))
        self.outcome = outcome


@dataclass
class OwnedTenant:
    tenant_name: str
    plan: Plan
    owner_email: str
    owner_name: str
    admin_id: uuid.UUID
    identity: IdentityToolkit
    plans: PlanCatalog
    key: KeyClaim[TenantDetails] | None = None
    _claim: Claim | None = None

    @property
    def actor_id(self) -> uuid.UUID:
        return self.admin_id

    async def claim(self, session: AsyncSession, tenant_id: uuid.UUID, now: datetime) -> None:
        if self.key is None:
            return
        try:
            stored = await self.key.records.claim_or_replay(
                session,
                user_id=self.key.user_id,
                key=self.key.key,
                fingerprint=self.key.fingerprint,
                now=now,
            )
        except Conflict as conflict:  # another body, or the first request still running
            raise KeyTaken(conflict) from conflict
        if isinstance(stored, StoredResponse):
            raise KeyTaken(stored)
        self._claim = stored

    async def finish(self, session: AsyncSession, tenant: Tenant, now: datetime) -> TenantDetails:
        owner = await provision_owner_account(
            session,
            self.identity,
            email=self.owner_email,
            name=self.owner_name,
            tenant_name=tenant.name,
        )
        await add_owner(
            session,
            tenant_id=tenant.id,
            user_id=owner.id,
            now=now,
            make_default=False,
            actor_id=self.admin_id,
        )
        details = await read_tenant_details(session, tenant.id, plans=self.plans, now=now)
        if self.key is not None and self._claim is not None:
            answer = StoredResponse(CREATED, self.key.answer(details))
            answered = await self.key.records.store_response(
                session,
                user_id=self.key.user_id,
                key=self.key.key,
                claim=self._claim,
                response=answer,
            )
            if not answered:  # this run outlived its lease and a retry took the key over
                raise KeyTaken(key_in_progress())
        return details

    async def release(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        """Free the key for a retry, only if this run claimed it (never another run's)."""
        if self.key is not None and self._claim is not None:
            await self.key.records.release(
                session, user_id=self.key.user_id, key=self.key.key, claim=self._claim
            )
