"""Accounts (SPEC §5-§7, §11): tenants and their members, projects, environments, teams,
invitations, the signed-in user and onboarding. One service object per area, built once by
`tenantry.bootstrap.Container`; `TenantActor` is the caller acting in a tenant."""

from typing import TYPE_CHECKING

from tenantry.domain.exports import lazy_exports

if TYPE_CHECKING:
    from tenantry.domain.accounts.dashboard import Dashboards
    from tenantry.domain.accounts.environments import Environments
    from tenantry.domain.accounts.invitations import Invitations
    from tenantry.domain.accounts.members import Members
    from tenantry.domain.accounts.onboarding import NewUser, create_personal_workspace
    from tenantry.domain.accounts.projects import Projects
    from tenantry.domain.accounts.roles import TenantActor, may_grant, outranks_or_equals
    from tenantry.domain.accounts.teams import Teams
    from tenantry.domain.accounts.tenants import Tenants
    from tenantry.domain.accounts.users import Users
    from tenantry.domain.accounts.wizard import OnboardingWizard

__all__ = [
    "Dashboards",
    "Environments",
    "Invitations",
    "Members",
    "NewUser",
    "OnboardingWizard",
    "Projects",
    "Teams",
    "TenantActor",
    "Tenants",
    "Users",
    "create_personal_workspace",
    "may_grant",
    "outranks_or_equals",
]
__getattr__ = lazy_exports(
    __name__,
    {
        "Dashboards": "dashboard",
        "Environments": "environments",
        "Invitations": "invitations",
        "Members": "members",
        "NewUser": "onboarding",
        "OnboardingWizard": "wizard",
        "Projects": "projects",
        "Teams": "teams",
        "TenantActor": "roles",
        "Tenants": "tenants",
        "Users": "users",
        "create_personal_workspace": "onboarding",
        "may_grant": "roles",
        "outranks_or_equals": "roles",
    },
)
