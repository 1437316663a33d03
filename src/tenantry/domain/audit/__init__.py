"""The audit log (SPEC §9): who did what to what, when, from which IP and user agent."""

from tenantry.domain.audit.context import (
    NO_ORIGIN,
    RequestOrigin,
    bind_origin,
    current_origin,
    unbind_origin,
)
from tenantry.domain.audit.entries import (
    audit_events,
    record_actor_audit,
    record_audit,
    record_audit_apart,
    scrub,
)
from tenantry.domain.audit.queries import AuditEntryView, AuditLog, AuditQuery
from tenantry.domain.audit.retention import purge_audit_entries

__all__ = [
    "NO_ORIGIN",
    "AuditEntryView",
    "AuditLog",
    "AuditQuery",
    "RequestOrigin",
    "audit_events",
    "bind_origin",
    "current_origin",
    "purge_audit_entries",
    "record_actor_audit",
    "record_audit",
    "record_audit_apart",
    "scrub",
    "unbind_origin",
]
