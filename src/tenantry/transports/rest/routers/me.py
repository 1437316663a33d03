"""The signed-in user (SPEC §6 `/v1/me`)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from tenantry.domain.accounts.users import Profile
from tenantry.domain.identity.external_accounts import LinkedIdentity
from tenantry.transports.rest.deps import ContainerDep, PrincipalDep
from tenantry.transports.rest.openapi import problems
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.rest.schemas.accounts import MeUpdate

router = PrefixedRouter(prefix="/v1/me", tags=["me"])


@router.get("")
async def read_me(container: ContainerDep, principal: PrincipalDep) -> Profile:
    return await container.profiles.get(principal.user_id)


@router.patch("", responses=problems(403))  # a default tenant not yours
async def update_me(body: MeUpdate, container: ContainerDep, principal: PrincipalDep) -> Profile:
    profile = await container.users.update_profile(
        user_id=principal.user_id, name=body.name, default_tenant_id=body.default_tenant_id
    )
    return profile


class IdentityLink(BaseModel):
    token: str = Field(min_length=1, max_length=16_384, description="a trusted issuer's token")


class LinkedIdentities(BaseModel):
    items: list[LinkedIdentity]


@router.post("/identities", status_code=201, responses=problems(403, 409, 422))
async def link_identity(
    body: IdentityLink, container: ContainerDep, principal: PrincipalDep
) -> LinkedIdentity:
    """Link an identity of a trusted issuer to your account: its tokens then act as you."""
    return await container.external_accounts.link(
        user_id=principal.user_id, session_id=principal.session_id, token=body.token
    )


@router.get("/identities")
async def list_identities(container: ContainerDep, principal: PrincipalDep) -> LinkedIdentities:
    items = await container.external_accounts.identities(user_id=principal.user_id)
    return LinkedIdentities(items=items)
