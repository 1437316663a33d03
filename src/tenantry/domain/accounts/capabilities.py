"""What a role may do in a tenant, stated once: the services require these least roles
(`actor.require(EDIT_PROJECTS)` in projects and environments, `MANAGE_TEAMS` in teams, ...),
and the pages read `capabilities_of(actor)`, so a page offers exactly the actions the domain
would carry out, and nothing it would refuse."""

from __future__ import annotations

from dataclasses import dataclass

from tenantry.domain.accounts.roles import ROLE_RANK, TenantActor, may_grant, outranks_or_equals

# The least role each action needs.
EDIT_PROJECTS = "editor"  # projects, their environments and their team links
ROTATE_KEYS = "admin"
MANAGE_TEAMS = "admin"  # create, rename, delete teams; see and change their members
MANAGE_MEMBERS = "admin"  # change roles, remove members
INVITE = "admin"  # send, resend and revoke invitations, and list them
RUN_ONBOARDING = "admin"
HIGHEST_FIRST = sorted(ROLE_RANK, key=ROLE_RANK.__getitem__, reverse=True)


@dataclass(frozen=True)
class Capabilities:
    """The actions open to one actor; `grantable_roles` (highest first) are the roles they
    may give, and so the members and invitations of those roles they may manage."""

    edit_projects: bool
    rotate_keys: bool
    manage_teams: bool
    manage_members: bool
    invite: bool
    run_onboarding: bool
    grantable_roles: tuple[str, ...]

    def may_grant(self, role: str) -> bool:
        return role in self.grantable_roles


def capabilities_of(actor: TenantActor) -> Capabilities:
    role = actor.role
    return Capabilities(
        edit_projects=outranks_or_equals(role, EDIT_PROJECTS),
        rotate_keys=outranks_or_equals(role, ROTATE_KEYS),
        manage_teams=outranks_or_equals(role, MANAGE_TEAMS),
        manage_members=outranks_or_equals(role, MANAGE_MEMBERS),
        invite=outranks_or_equals(role, INVITE),
        run_onboarding=outranks_or_equals(role, RUN_ONBOARDING),
        grantable_roles=tuple(granted for granted in HIGHEST_FIRST if may_grant(role, granted)),
    )
