"""Arranging tenant membership directly in storage, for tests whose subject is not how members
join (that is covered through the invitation API)."""

from __future__ import annotations

import uuid

from tenantry.bootstrap import Container
from tenantry.storage.epoch import bump_access_epoch
from tenantry.storage.models import Membership


async def add_member(container: Container, *, tenant_id: str, user_id: str, role: str) -> None:
    now = container.clock.now()
    async with container.db.transaction() as session:
        session.add(
            Membership(
                id=uuid.uuid4(),
                tenant_id=uuid.UUID(tenant_id),
                user_id=uuid.UUID(user_id),
                role=role,
                created_at=now,
                updated_at=now,
            )
        )
        await bump_access_epoch(session)
