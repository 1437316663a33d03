"""The plan catalog (SPEC §1 plan): tiers with features, limits and an isolation mode, shipped
as `plans.toml` and replaceable by a file of the same shape (`TENANTRY_PLANS_FILE`)."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from tenantry.domain.readmodel import ReadModel
from tenantry.errors import InvalidInput, PermissionDenied

Isolation = Literal["pool", "silo"]
# The plan of personal workspaces and of organizations created by their users.
DEFAULT_PLAN = "free"
FEATURE_NAMES = {
    "webhooks": "webhooks",
    "audit_log": "the audit log",
    "experiments": "experiments",
    "sso": "single sign-on",
    "priority_support": "priority support",
}


class PlannedTenant(Protocol):
    """What deciding a tenant's features needs: a tenant row, or a cached view of one."""

    @property
    def plan(self) -> str: ...

    @property
    def feature_overrides(self) -> dict[str, Any]: ...


class FeatureNotInPlan(PermissionDenied):
    """PermissionDenied `feature_not_in_plan`: the tenant's effective features lack `feature`; names
    the cheapest plan that has it."""

    code = "feature_not_in_plan"

    def __init__(self, feature: str, *, plan: Plan, cheapest: Plan | None) -> None:
        label = FEATURE_NAMES.get(feature, feature.replace("_", " "))
        if plan.features.get(feature, False):
            detail = f"The platform operator switched off {label} for this tenant."
        elif cheapest is None:
            detail = f"No plan includes {label}."
        else:
            detail = (
                f"The {plan.name} plan does not include {label}; the {cheapest.name} plan does."
            )
        super().__init__(detail)
        self.extra = {"feature": feature} | ({"required_plan": cheapest.id} if cheapest else {})


class _PlanFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    self_service: bool = False
    isolation: Isolation = "pool"
    monthly_price_cents: int = Field(default=0, ge=0)
    features: dict[str, bool] = Field(default_factory=dict)
    limits: dict[str, int] = Field(default_factory=dict)


class _CatalogFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plans: dict[str, _PlanFile] = Field(min_length=1)


# A tier of the catalog, as `GET /v1/plans` lists it (a comment: a docstring would become
# the OpenAPI schema's description). Every field is in every body, defaults too.
class Plan(ReadModel):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    id: str
    name: str
    self_service: bool
    isolation: Isolation
    monthly_price_cents: int
    features: dict[str, bool] = Field(default_factory=dict)
    limits: dict[str, int] = Field(default_factory=dict, description="absent: unlimited")

    def check_limit(self, limit: str, *, used: int, adding: int = 1) -> None:
        """PermissionDenied `plan_limit` if `adding` more would exceed the plan's `limit`."""
        allowed = self.limits.get(limit)
        if allowed is not None and used + adding > allowed:
            raise PermissionDenied(
                f"The {self.name} plan allows {allowed} {limit.replace('_', ' ')}; "
                "upgrade the plan to add more.",
                code="plan_limit",
            )

    def features_with(self, overrides: dict[str, Any]) -> dict[str, bool]:
        """The plan's feature flags with a tenant's platform-admin overrides applied."""
        merged = dict(self.features)
        merged.update({key: bool(value) for key, value in overrides.items()})
        return merged


def _price_order(plan: Plan) -> tuple[bool, int]:
    on_request = plan.monthly_price_cents == 0 and not plan.self_service
    return on_request, plan.monthly_price_cents


class PlanCatalog:
    def __init__(self, plans: list[Plan]) -> None:
        self._plans = {plan.id: plan for plan in plans}

    @classmethod
    def load(cls, path: Path | None = None) -> PlanCatalog:
        """The shipped catalog, or the one in `path`."""
        if path is None:
            text = resources.files(__package__).joinpath("plans.toml").read_text("utf-8")
        else:
            text = path.read_text("utf-8")
        parsed = _CatalogFile.model_validate(tomllib.loads(text))
        return cls(
            [
                Plan(
                    id=plan_id,
                    name=entry.name,
                    self_service=entry.self_service,
                    isolation=entry.isolation,
                    monthly_price_cents=entry.monthly_price_cents,
                    features=dict(entry.features),
                    limits=dict(entry.limits),
                )
                for plan_id, entry in parsed.plans.items()
            ]
        )

    def all(self) -> list[Plan]:
        return list(self._plans.values())

    def features_of(self, tenant: PlannedTenant) -> dict[str, bool]:
        """The tenant's effective features: its plan's, overridden by its own overrides."""
        return self.of_tenant(tenant.plan).features_with(tenant.feature_overrides)

    def has_feature(self, tenant: PlannedTenant, feature: str) -> bool:
        return self.features_of(tenant).get(feature, False)

    def refusal(self, tenant: PlannedTenant, feature: str) -> FeatureNotInPlan | None:
        """Why the tenant may not use `feature`, or None if it may (pages show the reason)."""
        if self.has_feature(tenant, feature):
            return None
        plan = self.of_tenant(tenant.plan)
        return FeatureNotInPlan(feature, plan=plan, cheapest=self.cheapest_with(feature))

    def require_feature(self, tenant: PlannedTenant, feature: str) -> None:
        """The one feature check every service behind a plan feature makes: PermissionDenied
        `feature_not_in_plan` unless the tenant's effective features include `feature`."""
        refusal = self.refusal(tenant, feature)
        if refusal is not None:
            raise refusal

    def cheapest_with(self, feature: str) -> Plan | None:
        """The plan with `feature` at the lowest monthly price. A plan priced 0 that is not
        self-service is priced on request, so it comes last; ties go to catalog order."""
        having = [plan for plan in self._plans.values() if plan.features.get(feature, False)]
        return min(having, key=_price_order, default=None)

    def get(self, plan_id: str) -> Plan:
        """The plan named in a request; unknown: InvalidInput `unknown_plan`."""
        plan = self._plans.get(plan_id)
        if plan is None:
            raise InvalidInput(f"There is no plan {plan_id!r}.", code="unknown_plan")
        return plan

    def of_tenant(self, plan_id: str) -> Plan:
        """A tenant's plan. A plan dropped from a replaced catalog keeps working, unlimited
        and without features, rather than locking its tenants out."""
        return self._plans.get(plan_id) or Plan(
            id=plan_id, name=plan_id, self_service=False, isolation="pool", monthly_price_cents=0
        )
