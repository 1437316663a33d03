"""Writing audit entries: one per domain event, in the transaction of the change (the outbox
calls `audit_events`), and one per change that writes no event (`record_audit`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NotRequired, Protocol, TypedDict, Unpack

from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.accounts.roles import TenantActor
from tenantry.domain.audit.context import RequestOrigin, current_origin
from tenantry.storage.database import Store
from tenantry.storage.tables import table

AUDIT_ENTRIES = table("audit_entries")
INSERT_ENTRY = AUDIT_ENTRIES.insert()
MAX_USER_AGENT = 500
# A data key with one of these words (split on `_`) is never stored, nor a webhook secret.
SECRET_WORDS = frozenset({"password", "secret", "token", "code", "key", "hash"})
SECRET_PREFIXES = ("whsec_",)
REDACTED = "[redacted]"
# The event's resource -> what it targets and the data key holding the target's id.
EVENT_TARGETS = {
    "membership": ("user", "user_id"),
    "billing": ("tenant", "tenant_id"),
}


class AuditableEvent(Protocol):
    @property
    def type(self) -> str: ...
    @property
    def tenant_id(self) -> uuid.UUID | None: ...
    @property
    def actor_id(self) -> uuid.UUID | None: ...
    @property
    def data(self) -> dict[str, Any]: ...


class AuditEntry(TypedDict):
    action: str
    tenant_id: uuid.UUID | None
    actor_id: uuid.UUID | None
    target_type: str | None
    target_id: str | None
    data: NotRequired[dict[str, Any] | None]
    now: datetime


async def record_audit(
    session: AsyncSession,
    *,
    action: str,
    tenant_id: uuid.UUID | None,
    actor_id: uuid.UUID | None,
    target_type: str | None,
    target_id: str | None,
    data: dict[str, Any] | None = None,
    now: datetime,
) -> None:
    """Audit a change that writes no domain event, in the session's transaction."""
    row = _row(
        current_origin(),
        uuid.uuid4(),
        action=action,
        tenant_id=tenant_id,
        actor_id=actor_id,
        target=(target_type, target_id),
        data=data or {},
        now=now,
    )
    connection = await session.connection()
    await connection.execute(INSERT_ENTRY, [row])


async def record_actor_audit(
    session: AsyncSession,
    actor: TenantActor,
    action: str,
    target_id: uuid.UUID,
    data: dict[str, Any],
    *,
    target_type: str,
    now: datetime,
) -> None:
    """Audit a change `actor` made in their tenant (modules bind their `target_type`)."""
    await record_audit(
        session,
        action=action,
        tenant_id=actor.tenant_id,
        actor_id=actor.user_id,
        target_type=target_type,
        target_id=str(target_id),
        data=data,
        now=now,
    )


async def record_audit_apart(db: Store, **entry: Unpack[AuditEntry]) -> None:
    """Audit a change already committed in another store (a tenant's data), in a core
    transaction of its own: a crash between the two commits loses the entry, never the
    change."""
    async with db.transaction() as session:
        await record_audit(session, **entry)


async def audit_events(
    session: AsyncSession, events: Sequence[AuditableEvent], *, now: datetime
) -> None:
    """One entry per event, in one statement. The ids of the batch ascend in event order, so
    newest-first lists show a transaction's entries last-written first."""
    origin = current_origin()
    ids = sorted(uuid.uuid4() for _ in events)
    rows = [
        _row(
            origin,
            row_id,
            action=event.type,
            tenant_id=event.tenant_id,
            actor_id=event.actor_id,
            target=event_target(event),
            data=event.data,
            now=now,
        )
        for row_id, event in zip(ids, events, strict=True)
    ]
    connection = await session.connection()
    await connection.execute(INSERT_ENTRY, rows)


def event_target(event: AuditableEvent) -> tuple[str, str | None]:
    """What an event is about, from its type (`<resource>.<verb>`) and data; a user event
    without a user id is about its actor, a tenant event without an id about its tenant."""
    resource = event.type.partition(".")[0]
    target_type, id_key = EVENT_TARGETS.get(resource, (resource, f"{resource}_id"))
    found = event.data.get(id_key)
    if found is None and target_type == "user":
        found = event.actor_id
    if found is None and target_type == "tenant":
        found = event.tenant_id
    return target_type, None if found is None else str(found)


def scrub(data: dict[str, Any]) -> dict[str, Any]:
    """`data` without anything secret-looking: keys naming a password, secret, token, code,
    key or hash are dropped, secret-looking strings redacted."""
    return {
        key: _scrubbed(value)
        for key, value in data.items()
        if SECRET_WORDS.isdisjoint(key.lower().split("_"))
    }


def _scrubbed(value: Any) -> Any:
    if isinstance(value, dict):
        return scrub(value)
    if isinstance(value, list | tuple):
        return [_scrubbed(item) for item in value]
    if isinstance(value, str) and value.startswith(SECRET_PREFIXES):
        return REDACTED
    return value


def _row(
    origin: RequestOrigin,
    row_id: uuid.UUID,
    *,
    action: str,
    tenant_id: uuid.UUID | None,
    actor_id: uuid.UUID | None,
    target: tuple[str | None, str | None],
    data: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    user_agent = origin.user_agent
    return {
        "id": row_id,
        "tenant_id": tenant_id,
        "actor_id": actor_id,
        "action": action,
        "target_type": target[0],
        "target_id": target[1],
        "ip": origin.ip,
        "user_agent": user_agent[:MAX_USER_AGENT] if user_agent else user_agent,
        "request_id": origin.request_id,
        "data": scrub(data),
        "created_at": now,
    }
