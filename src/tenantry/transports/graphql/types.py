"""The GraphQL types of people and tenants (SPEC §9: `User`, `Membership`, `Tenant`), built by
`from_model` from the domain's read models that REST returns. A tenant's members and settings
check the caller's membership of that tenant first, as `X-Tenant-ID` naming it would on REST."""

from __future__ import annotations

import enum
import inspect
import uuid
from datetime import datetime
from typing import Any, Generic, TypeVar

import strawberry
from strawberry.scalars import JSON

from tenantry.domain.accounts.members import MemberView
from tenantry.domain.accounts.tenants import TenantView
from tenantry.domain.accounts.users import MembershipView, Profile
from tenantry.domain.pagination import DEFAULT_LIMIT
from tenantry.transports.graphql.context import Info

T = TypeVar("T")
G = TypeVar("G")


def from_model(graphql_type: type[G], model: object, **given: Any) -> G:
    """`graphql_type` built from `given` and, for its other constructor fields, from the
    same-named fields of `model`: the one path from a domain read model to its GraphQL type,
    so neither restates the other's field list."""
    taken = {
        name: getattr(model, name)
        for name in _constructor_fields(graphql_type)
        if name not in given and hasattr(model, name)
    }
    return graphql_type(**taken, **given)


_FIELDS: dict[type, tuple[str, ...]] = {}


def _constructor_fields(graphql_type: type) -> tuple[str, ...]:
    """Read once per type: signatures are slow to compute for every object of a list."""
    fields = _FIELDS.get(graphql_type)
    if fields is None:
        fields = _FIELDS[graphql_type] = tuple(inspect.signature(graphql_type).parameters)
    return fields


@strawberry.enum(description="A role in a tenant: owner > admin > editor > viewer.")
class Role(enum.Enum):
    OWNER = "owner"
    ADMIN = "admin"
    EDITOR = "editor"
    VIEWER = "viewer"


@strawberry.type(description="A list page, as REST's `{items, next_cursor}`.")
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None = strawberry.field(description="null on the last page")


async def _settings(root: Tenant, info: Info) -> TenantView:
    """The tenant as `GET /v1/tenant` reads it, for a member of it."""
    await info.context.actor(root.id)
    return await info.context.container.tenant_views.get(root.id)


async def _isolation(root: Tenant, info: Info) -> str | None:
    return (await _settings(root, info)).isolation


async def _profile(root: Tenant, info: Info) -> JSON | None:
    return JSON((await _settings(root, info)).profile)


async def _features(root: Tenant, info: Info) -> JSON | None:
    return JSON((await _settings(root, info)).features)


async def _limits(root: Tenant, info: Info) -> JSON | None:
    return JSON((await _settings(root, info)).limits)


async def _created_at(root: Tenant, info: Info) -> datetime | None:
    return (await _settings(root, info)).created_at


async def _members(root: Tenant, info: Info, limit: int = DEFAULT_LIMIT) -> list[Membership] | None:
    views = await info.context.members_of(root.id, limit)
    return [Membership.of_member(view, tenant=root) for view in views]


MEMBERS_ONLY = " Members only: null, with an error, for a tenant the caller cannot enter."


@strawberry.type(description="A tenant (an organization or a personal workspace).")
class Tenant:
    id: uuid.UUID
    name: str
    kind: str
    plan: str
    status: str
    isolation: str | None = strawberry.field(
        resolver=_isolation, description="`pool` or `silo`." + MEMBERS_ONLY
    )
    profile: JSON | None = strawberry.field(
        resolver=_profile, description="Onboarding and KYC details." + MEMBERS_ONLY
    )
    features: JSON | None = strawberry.field(
        resolver=_features, description="The plan's feature flags with overrides." + MEMBERS_ONLY
    )
    limits: JSON | None = strawberry.field(
        resolver=_limits, description="The plan's limits (absent: unlimited)." + MEMBERS_ONLY
    )
    created_at: datetime | None = strawberry.field(
        resolver=_created_at, description="When the tenant was created." + MEMBERS_ONLY
    )
    members: list[Membership] | None = strawberry.field(
        resolver=_members,
        description="The first `limit` members in joining order (the `members` query pages "
        "through all)." + MEMBERS_ONLY,
    )

    @classmethod
    def of(cls, view: TenantView | MembershipView) -> Tenant:
        if isinstance(view, MembershipView):
            return from_model(
                cls,
                view,
                id=view.tenant_id,
                name=view.tenant_name,
                kind=view.tenant_kind,
                status=view.tenant_status,
            )
        return from_model(cls, view)


@strawberry.type(description="A person. Other members show their name and email only.")
class User:
    id: uuid.UUID
    email: str
    name: str
    email_verified: bool | None = strawberry.field(
        default=None, description="On `me` only; null for other users."
    )
    default_tenant_id: uuid.UUID | None = strawberry.field(
        default=None, description="On `me` only; null for other users."
    )
    created_at: datetime | None = strawberry.field(
        default=None, description="On `me` only; null for other users."
    )
    memberships: list[Membership] = strawberry.field(
        default_factory=list,
        description="On `me`, all of the user's memberships; on a user reached through a "
        "tenant's members, only the membership in that tenant.",
    )

    @classmethod
    def of_profile(cls, profile: Profile) -> User:
        user = from_model(cls, profile, memberships=[])
        user.memberships = [
            Membership(
                role=Role(view.role),
                joined_at=view.created_at,
                user=user,
                tenant=Tenant.of(view),
            )
            for view in profile.memberships
        ]
        return user


@strawberry.type(description="A user's role in a tenant.")
class Membership:
    role: Role
    joined_at: datetime
    user: User
    tenant: Tenant

    @classmethod
    def of_member(cls, view: MemberView, *, tenant: Tenant) -> Membership:
        user = from_model(User, view, id=view.user_id)
        membership = from_model(cls, view, role=Role(view.role), user=user, tenant=tenant)
        user.memberships = [membership]
        return membership
