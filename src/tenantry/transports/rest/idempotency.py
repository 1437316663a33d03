"""`Idempotency-Key` on creating POSTs (SPEC §3): a route hands its unit of work to
`CreateOnceDep.run`, which runs it in one transaction with the key's claim and stored answer."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.clock import Clock
from tenantry.domain.idempotency import IdempotencyRecords, StoredResponse
from tenantry.errors import MalformedRequest
from tenantry.storage.database import Database
from tenantry.transports.rest.deps import TENANT_HEADER, ContainerDep

IDEMPOTENCY_HEADER = "idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255

Work = Callable[[AsyncSession], Awaitable[BaseModel]]
WorkApart = Callable[[], Awaitable[BaseModel]]


@dataclass(frozen=True)
class CreateOnce:
    db: Database
    clock: Clock
    records: IdempotencyRecords
    key: str | None
    scope: tuple[str, str, str | None]  # method, path, tenant header

    async def run(
        self,
        work: Work,
        *,
        user_id: uuid.UUID,
        body: BaseModel | None = None,
        status_code: int = 201,
    ) -> JSONResponse:
        """Run `work` in a transaction and answer with its result; with a key, the first
        answer is stored and replayed for the same request, and 409 for another one."""
        async with self.db.transaction() as session:
            if self.key is not None:
                stored = await self.records.claim_or_replay(
                    session,
                    user_id=user_id,
                    key=self.key,
                    fingerprint=self.fingerprint(body),
                    now=self.clock.now(),
                )
                if stored is not None:
                    return _replayed(stored)
            payload = (await work(session)).model_dump(mode="json")
            if self.key is not None:
                await self.records.store_response(
                    session,
                    user_id=user_id,
                    key=self.key,
                    response=StoredResponse(status_code, payload),
                )
        return JSONResponse(payload, status_code=status_code)

    async def run_apart(
        self,
        work: WorkApart,
        *,
        user_id: uuid.UUID,
        body: BaseModel | None = None,
        status_code: int = 201,
    ) -> JSONResponse:
        """Like `run`, for work with a unit of work of its own on another store (a tenant's
        data). The key is claimed in a core transaction committed before the work starts and
        answered in another after it, so no core write is held open across the work: on
        SQLite a pool tenant's store is the core database file, and a nested write would wait
        for itself. A failed attempt gives the key back; a repeat arriving while the work runs
        gets 409 `idempotency_key_in_progress`."""
        if self.key is None:
            return JSONResponse((await work()).model_dump(mode="json"), status_code=status_code)
        key = self.key
        async with self.db.transaction() as session:
            stored = await self.records.claim_or_replay(
                session,
                user_id=user_id,
                key=key,
                fingerprint=self.fingerprint(body),
                now=self.clock.now(),
            )
        if stored is not None:
            return _replayed(stored)
        try:
            payload = (await work()).model_dump(mode="json")
        except BaseException:
            async with self.db.transaction() as session:
                await self.records.release(session, user_id=user_id, key=key)
            raise
        async with self.db.transaction() as session:
            answer = StoredResponse(status_code, payload)
            await self.records.store_response(session, user_id=user_id, key=key, response=answer)
        return JSONResponse(payload, status_code=status_code)

    def fingerprint(self, body: BaseModel | None) -> str:
        """What the key stands for: the method, path, tenant header and body."""
        content = body.model_dump(mode="json") if body is not None else None
        canonical = json.dumps([self.scope, content], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def _replayed(stored: StoredResponse) -> JSONResponse:
    return JSONResponse(
        stored.body, status_code=stored.status_code, headers={REPLAYED_HEADER: "true"}
    )


async def create_once(request: Request, container: ContainerDep) -> CreateOnce:
    values = request.headers.getlist(IDEMPOTENCY_HEADER)
    key = values[0].strip() if len(values) == 1 else None
    if len(values) > 1 or (
        key is not None and not (0 < len(key) <= MAX_KEY_LENGTH and key.isprintable())
    ):
        raise MalformedRequest(
            f"Send one Idempotency-Key of 1 to {MAX_KEY_LENGTH} printable characters.",
            code="invalid_idempotency_key",
        )
    return CreateOnce(
        db=container.db,
        clock=container.clock,
        records=container.idempotency,
        key=key,
        scope=(request.method, request.url.path, request.headers.get(TENANT_HEADER)),
    )


CreateOnceDep = Annotated[CreateOnce, Depends(create_once)]
