"""What a platform admin changes about tenants (SPEC §8): name, metadata, feature overrides
and plan; disabling and enabling; and tenants provisioned for an owner named by email. The
queries behind its reads live in `admin_search` and `admin_details`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.clock import Clock
from tenantry.domain.accounts.members import MemberView, list_members
from tenantry.domain.accounts.tenants import lock_tenant
from tenantry.domain.events.outbox import Event, record_events
from tenantry.domain.idempotency import KeyClaim, StoredResponse
from tenantry.domain.identity.toolkit import IdentityToolkit
from tenantry.domain.pagination import Page, PageRequest
from tenantry.domain.plans.catalog import Plan, PlanCatalog
from tenantry.domain.provider.admin_details import TenantDetails, read_tenant_details
from tenantry.domain.provider.admin_orders import KeyTaken, OwnedTenant
from tenantry.domain.provider.admin_search import TenantListItem, TenantQuery, search_tenants
from tenantry.domain.provider.plan_changes import PlanChanges
from tenantry.domain.provider.provisioning import Provisioner, ProvisioningFailed
from tenantry.errors import Conflict, InvalidInput, Unavailable
from tenantry.storage.database import Database
from tenantry.storage.epoch import bump_access_epoch
from tenantry.storage.models import StoreMove, Tenant

MAX_METADATA_KEYS = 100


@dataclass(frozen=True)
class TenantChanges:
    """A PATCH: None leaves a field alone; in `metadata` and `features` a None value removes
    the key (the override, so the plan's value applies again)."""

    name: str | None = None
    plan: str | None = None
    metadata: dict[str, Any] | None = None
    features: dict[str, bool | None] | None = None


@dataclass(frozen=True)
class NewTenant:
    name: str
    plan: str
    owner_email: str
    owner_name: str | None = None


async def _lock_live(session: AsyncSession, tenant_id: uuid.UUID) -> Tenant:
    """The tenant, locked; one still being provisioned belongs to its run: Conflict."""
    tenant = await lock_tenant(session, tenant_id)
    if tenant.status == "provisioning":
        raise Conflict("The tenant is still being provisioned.", code="tenant_provisioning")
    return tenant


def _merged(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    merged = {**current, **patch}
    return {key: value for key, value in merged.items() if value is not None}


class AdminTenants:
    def __init__(
        self,
        *,
        db: Database,
        plans: PlanCatalog,
        clock: Clock,
        identity: IdentityToolkit,
        provisioner: Provisioner,
        plan_changes: PlanChanges,
    ) -> None:
        self._db = db
        self._plans = plans
        self._clock = clock
        self._identity = identity
        self._provisioner = provisioner
        self._plan_changes = plan_changes

    async def search(self, *, query: TenantQuery, page: PageRequest) -> Page[TenantListItem]:
        """Every tenant matching `query`, provisioning ones included, oldest first."""
        async with self._db.read() as session:
            return await search_tenants(session, query=query, page=page)

    async def details(self, *, tenant_id: uuid.UUID) -> TenantDetails:
        async with self._db.read() as session:
            return await read_tenant_details(
                session, tenant_id, plans=self._plans, now=self._clock.now()
            )

    async def members(self, *, tenant_id: uuid.UUID, page: PageRequest) -> Page[MemberView]:
        """The tenant's members in the order they joined."""
        async with self._db.read() as session:
            return await list_members(session, tenant_id=tenant_id, page=page)

    async def update(
        self, *, tenant_id: uuid.UUID, changes: TenantChanges, admin_id: uuid.UUID
    ) -> None:
        """Apply `changes`. A plan of another isolation mode moves the tenant's data first
        (`PlanChanges`); the rest is one transaction."""
        plan = self._plans.get(changes.plan) if changes.plan is not None else None
        self._check_features(changes.features or {})
        if plan is not None and await self._moves_data(tenant_id, plan):
            await self._plan_changes.change_plan(tenant_id=tenant_id, plan=plan, actor_id=admin_id)
            plan = None
        async with self._db.transaction() as session:
            tenant = await _lock_live(session, tenant_id)
            changed = self._apply(tenant, changes)
            if plan is not None and plan.id != tenant.plan:
                await _refuse_moving(session, tenant, plan)
                changed |= {
                    "plan": plan.id,
                    "previous_plan": tenant.plan,
                    "isolation": plan.isolation,
                }
                tenant.plan = plan.id
            if not changed:
                return
            now = self._clock.now()
            tenant.updated_at = now
            event = Event("tenant.updated", tenant.id, admin_id, changed)
            await record_events(session, [event], now=now)
            await bump_access_epoch(session)  # features, limits and names are cached

    def _check_features(self, features: dict[str, bool | None]) -> None:
        known = {name for plan in self._plans.all() for name in plan.features}
        unknown = sorted(set(features) - known)
        if unknown:
            raise InvalidInput(
                f"Unknown feature(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}.",
                code="unknown_feature",
            )

    def _apply(self, tenant: Tenant, changes: TenantChanges) -> dict[str, Any]:
        changed: dict[str, Any] = {}
        if changes.name is not None and changes.name != tenant.name:
            tenant.name = changed["name"] = changes.name
        if changes.metadata:
            metadata = _merged(tenant.extra_metadata, changes.metadata)
            if len(metadata) > MAX_METADATA_KEYS:
                raise InvalidInput(
                    f"A tenant holds at most {MAX_METADATA_KEYS} metadata keys.",
                    code="metadata_too_large",
                )
            tenant.extra_metadata = metadata
            changed["metadata"] = sorted(changes.metadata)
        if changes.features:
            tenant.feature_overrides = _merged(tenant.feature_overrides, changes.features)
            changed["features"] = sorted(changes.features)
        return changed

    async def _moves_data(self, tenant_id: uuid.UUID, plan: Plan) -> bool:
        """Whether moving to `plan` is a job for `PlanChanges`: another isolation mode, or a
        move of this tenant that has not finished."""
        async with self._db.read() as session:
            tenant = await session.get(Tenant, tenant_id)
            if tenant is None or tenant.status == "provisioning" or tenant.plan == plan.id:
                return False  # the transaction that follows refuses or skips it
            if tenant.isolation != plan.isolation:
                return True
            return await session.get(StoreMove, tenant_id) is not None

    async def disable(
        self, *, tenant_id: uuid.UUID, reason: str | None, admin_id: uuid.UUID
    ) -> None:
        """Every member's tenant-scoped requests are refused (PermissionDenied `tenant_disabled`)
        from the next one on; the data stays. Disabling a disabled tenant changes nothing."""
        await self._set_status(tenant_id, "disabled", reason=reason, admin_id=admin_id)

    async def enable(self, *, tenant_id: uuid.UUID, admin_id: uuid.UUID) -> None:
        await self._set_status(tenant_id, "active", reason=None, admin_id=admin_id)

    async def _set_status(
        self, tenant_id: uuid.UUID, status: str, *, reason: str | None, admin_id: uuid.UUID
    ) -> None:
        async with self._db.transaction() as session:
            tenant = await _lock_live(session, tenant_id)
            if tenant.status == status:
                return
            now = self._clock.now()
            tenant.status, tenant.disabled_reason, tenant.updated_at = status, reason, now
            kind = "tenant.enabled" if status == "active" else "tenant.disabled"
            data = {"tenant_id": str(tenant.id)} | ({"reason": reason} if reason else {})
            await record_events(session, [Event(kind, tenant.id, admin_id, data)], now=now)
            await bump_access_epoch(session)  # cached grants to its members end now

    async def create(
        self,
        *,
        new: NewTenant,
        admin_id: uuid.UUID,
        key: KeyClaim[TenantDetails] | None = None,
    ) -> TenantDetails | StoredResponse:
        """Provision a tenant on any plan with `owner_email` as its owner (an account made and
        mailed an activation code if needed). With an Idempotency-Key, a repeat gets the
        first answer back as a `StoredResponse`."""
        order = OwnedTenant(
            tenant_name=new.name,
            plan=self._plans.get(new.plan),
            owner_email=new.owner_email,
            owner_name=new.owner_name or "",
            admin_id=admin_id,
            identity=self._identity,
            plans=self._plans,
            key=key,
        )
        try:
            _tenant_id, details = await self._provisioner.provision(order)
        except KeyTaken as taken:
            if isinstance(taken.outcome, StoredResponse):
                return taken.outcome
            raise taken.outcome from None
        except ProvisioningFailed as failure:
            raise Unavailable(
                f"Provisioning failed ({failure.step}): {failure.reason}",
                code="provisioning_failed",
            ) from failure
        return details


async def _refuse_moving(session: AsyncSession, tenant: Tenant, plan: Plan) -> None:
    """A plan of the tenant's own isolation mode, with no data move under way (one may have
    started since `_moves_data` looked)."""
    moving = await session.get(StoreMove, tenant.id)
    if moving is not None or tenant.isolation != plan.isolation:
        raise Conflict(
            "The tenant's data is moving to another plan; try again shortly.",
            code="plan_change_in_progress",
        )
