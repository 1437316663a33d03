"""Idempotency keys for creating requests (SPEC §3). The key is claimed with an insert in the
transaction that does the work and stores the response, so a racing duplicate waits for that
transaction and then replays its answer; a failed attempt leaves no claim behind. Work that
spans several transactions (provisioning a tenant) claims the key in its first and answers in
its last; in between a duplicate gets 409. Stored responses are sealed with the master key,
since one may carry a secret."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.identity.masterkey import SecretBox
from tenantry.errors import Conflict
from tenantry.storage.tables import IDEMPOTENCY_RECORDS as RECORDS
from tenantry.storage.upsert import insert_on_conflict

RETENTION = timedelta(hours=24)


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: Any


def _this_key(user_id: uuid.UUID, key: str) -> Any:
    return and_(RECORDS.c.user_id == user_id, RECORDS.c.key == key)


class IdempotencyRecords:
    def __init__(self, box: SecretBox) -> None:
        self._box = box

    async def claim_or_replay(
        self,
        session: AsyncSession,
        *,
        user_id: uuid.UUID,
        key: str,
        fingerprint: str,
        now: datetime,
    ) -> StoredResponse | None:
        """Claim `key` for this request (None: go ahead and do the work), or return the
        response stored for it. The same key with another request: 409
        `idempotency_key_reused`."""
        connection = await session.connection()
        await connection.execute(
            delete(RECORDS).where(_this_key(user_id, key), RECORDS.c.created_at <= now - RETENTION)
        )
        claim = (
            insert_on_conflict(session, RECORDS)
            .values(user_id=user_id, key=key, fingerprint=fingerprint, created_at=now)
            .on_conflict_do_nothing()
        )
        if (await connection.execute(claim)).rowcount == 1:
            return None
        stored = (
            await connection.execute(
                select(RECORDS.c.fingerprint, RECORDS.c.status_code, RECORDS.c.sealed_body).where(
                    _this_key(user_id, key)
                )
            )
        ).one()
        if stored.fingerprint != fingerprint:
            raise Conflict(
                "This Idempotency-Key was used with a different request.",
                code="idempotency_key_reused",
            )
        if stored.status_code is None:  # claimed by work that spans several transactions
            raise Conflict(
                "A request with this Idempotency-Key is still in progress; retry shortly.",
                code="idempotency_key_in_progress",
            )
        body = self._box.decrypt(stored.sealed_body, context=idempotency_context(user_id, key))
        return StoredResponse(stored.status_code, json.loads(body))

    async def store_response(
        self, session: AsyncSession, *, user_id: uuid.UUID, key: str, response: StoredResponse
    ) -> None:
        sealed = self._box.encrypt(
            json.dumps(response.body).encode(), context=idempotency_context(user_id, key)
        )
        connection = await session.connection()
        await connection.execute(
            update(RECORDS)
            .where(_this_key(user_id, key))
            .values(status_code=response.status_code, sealed_body=sealed)
        )

    async def release(self, session: AsyncSession, *, user_id: uuid.UUID, key: str) -> None:
        """Give back a claim that was never answered (its work was undone)."""
        connection = await session.connection()
        await connection.execute(
            delete(RECORDS).where(_this_key(user_id, key), RECORDS.c.status_code.is_(None))
        )


def idempotency_context(user_id: uuid.UUID, key: str) -> str:
    return f"idempotency:{user_id}:{key}"


async def purge_expired(session: AsyncSession, *, now: datetime) -> int:
    connection = await session.connection()
    result = await connection.execute(
        delete(RECORDS).where(RECORDS.c.created_at <= now - RETENTION)
    )
    return result.rowcount
