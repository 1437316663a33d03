"""The plan catalog (SPEC §1): tiers with features, limits and an isolation mode, and the
feature check against a tenant."""

from typing import TYPE_CHECKING

from tenantry.domain.exports import lazy_exports

if TYPE_CHECKING:
    from tenantry.domain.plans.catalog import FeatureNotInPlan, Plan, PlanCatalog
    from tenantry.domain.plans.features import require_tenant_feature

__all__ = [
    "FeatureNotInPlan",
    "Plan",
    "PlanCatalog",
    "require_tenant_feature",
]
__getattr__ = lazy_exports(
    __name__,
    {
        "FeatureNotInPlan": "catalog",
        "Plan": "catalog",
        "PlanCatalog": "catalog",
        "require_tenant_feature": "features",
    },
)
