"""Every event type Tenantry writes (SPEC §9): what webhook endpoints may subscribe to."""

from __future__ import annotations

EVENT_TYPES = frozenset(
    {
        "user.created",
        "user.confirmed",
        "user.updated",
        "tenant.created",
        "tenant.updated",
        "tenant.disabled",
        "tenant.enabled",
        "tenant.deleted",
        "membership.created",
        "membership.updated",
        "membership.deleted",
        "invitation.created",
        "invitation.accepted",
        "invitation.declined",
        "invitation.revoked",
        "invitation.resent",
        "project.created",
        "project.deleted",
        "environment.created",
        "registration.completed",
        "registration.failed",
        "billing.payment_received",
    }
)
ALL_EVENTS = "*"


def subscribes(event_types: list[str], event_type: str) -> bool:
    return ALL_EVENTS in event_types or event_type in event_types
