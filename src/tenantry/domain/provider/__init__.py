"""The provider plane (SPEC §8): self-service registration, provisioning, plan changes, HubSpot
payments, where each tenant's data lives, and what platform admins do in the console."""

from typing import TYPE_CHECKING

from tenantry.domain.exports import lazy_exports

if TYPE_CHECKING:
    from tenantry.domain.provider.admin_tenants import AdminTenants
    from tenantry.domain.provider.admin_users import AdminUsers
    from tenantry.domain.provider.hubspot import HubspotPayments
    from tenantry.domain.provider.plan_changes import PlanChanges
    from tenantry.domain.provider.provisioning import Provisioner
    from tenantry.domain.provider.registrations import Registrations
    from tenantry.domain.provider.stores import TenantStores

__all__ = [
    "AdminTenants",
    "AdminUsers",
    "HubspotPayments",
    "PlanChanges",
    "Provisioner",
    "Registrations",
    "TenantStores",
]
__getattr__ = lazy_exports(
    __name__,
    {
        "AdminTenants": "admin_tenants",
        "AdminUsers": "admin_users",
        "HubspotPayments": "hubspot",
        "PlanChanges": "plan_changes",
        "Provisioner": "provisioning",
        "Registrations": "registrations",
        "TenantStores": "stores",
    },
)
