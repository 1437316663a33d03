"""The tenant role ladder (owner > admin > editor > viewer) and the caller acting in a tenant.
Services check roles themselves, so every transport applies the same matrix."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from tenantry.errors import PermissionDenied

ROLE_RANK = {"viewer": 0, "editor": 1, "admin": 2, "owner": 3}


def outranks_or_equals(role: str, minimum: str) -> bool:
    return ROLE_RANK[role] >= ROLE_RANK[minimum]


def role_to_grant(role: str) -> str:
    """The least role that may grant `role` (invite to it): owners grant `owner`, admins the
    rest."""
    return "owner" if role == "owner" else "admin"


def may_grant(grantor_role: str | None, role: str) -> bool:
    """Whether someone holding `grantor_role` (None: not a member) may grant `role`."""
    return grantor_role is not None and outranks_or_equals(grantor_role, role_to_grant(role))


@dataclass(frozen=True)
class TenantActor:
    """A user acting in a tenant with their role, as re-validated for this request."""

    user_id: uuid.UUID
    tenant_id: uuid.UUID
    role: str

    def require(self, minimum: str) -> None:
        if not outranks_or_equals(self.role, minimum):
            raise PermissionDenied(
                f"This needs the {minimum} role or higher in this tenant.",
                code="insufficient_role",
            )
