"""`Idempotency-Key` on creating POSTs (SPEC §3): a route hands its unit of work to
`CreateOnceDep.run`, which runs it in one transaction with the key's claim and stored answer
(or to `run_apart`, for work committed on another store)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.clock import Clock
from tenantry.domain.idempotency import Claim, IdempotencyRecords, KeyClaim, StoredResponse
from tenantry.errors import MalformedRequest
from tenantry.storage.database import Database
from tenantry.transports.rest.deps import TENANT_HEADER, ContainerDep

IDEMPOTENCY_HEADER = "idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255

Work = Callable[[AsyncSession], Awaitable[BaseModel]]
# Given the id to create its row with (None without a key), and the same id again on a retry
# after the request that claimed the key died: then it answers with the row if it is there.
WorkApart = Callable[[uuid.UUID | None], Awaitable[BaseModel]]
T = TypeVar("T")


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
            claim = None
            if self.key is not None:
                claim = await self.records.claim_or_replay(
                    session,
                    user_id=user_id,
                    key=self.key,
                    fingerprint=self.fingerprint(body),
                    now=self.clock.now(),
                )
                if isinstance(claim, StoredResponse):
                    return replayed(claim)
            payload = (await work(session)).model_dump(mode="json")
            if self.key is not None and isinstance(claim, Claim):
                await self.records.store_response(
                    session,
                    user_id=user_id,
                    key=self.key,
                    claim=claim,
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
        gets 409 `idempotency_key_in_progress`, and after the claim's lease (the request died
        between claim and answer) takes it over and runs the work again with the claim's
        `work_id`, finding the row if the dead request had committed it."""
        if self.key is None:
            payload = (await work(None)).model_dump(mode="json")
            return JSONResponse(payload, status_code=status_code)
        key = self.key
        async with self.db.transaction() as session:
            claim = await self.records.claim_or_replay(
                session,
                user_id=user_id,
                key=key,
                fingerprint=self.fingerprint(body),
                now=self.clock.now(),
            )
        if isinstance(claim, StoredResponse):
            return replayed(claim)
        try:
            payload = (await work(claim.work_id)).model_dump(mode="json")
        except BaseException:
            async with self.db.transaction() as session:
                await self.records.release(session, user_id=user_id, key=key, claim=claim)
            raise
        async with self.db.transaction() as session:
            answer = StoredResponse(status_code, payload)
            await self.records.store_response(
                session, user_id=user_id, key=key, claim=claim, response=answer
            )
        return JSONResponse(payload, status_code=status_code)

    def key_claim(
        self, body: BaseModel, *, user_id: uuid.UUID, answer: Callable[[T], Any]
    ) -> KeyClaim[T] | None:
        """The key for work that claims it in its own transaction (None without a key)."""
        if self.key is None:
            return None
        return KeyClaim(self.records, user_id, self.key, self.fingerprint(body), answer)

    def fingerprint(self, body: BaseModel | None) -> str:
        """What the key stands for: the method, path, tenant header and body."""
        content = body.model_dump(mode="json") if body is not None else None
        return self.records.fingerprint([self.scope, content])


def answered(
    outcome: T | StoredResponse, render: Callable[[T], Any], *, status_code: int = 201
) -> JSONResponse:
    """A service's answer to a request that may carry an Idempotency-Key: the stored answer
    of an earlier request with the key, sent again, or `outcome` rendered by `render` (the
    same function the key claim stores answers with)."""
    if isinstance(outcome, StoredResponse):
        return replayed(outcome)
    return JSONResponse(render(outcome), status_code=status_code)


def replayed(stored: StoredResponse) -> JSONResponse:
    """The answer stored for a key, sent again."""
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
