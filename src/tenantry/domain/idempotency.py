"""Idempotency keys for creating requests (SPEC §3). The key is claimed with an insert in the
transaction that does the work and stores the response, so a racing duplicate waits for that
transaction and then replays its answer; a failed attempt leaves no claim behind. Work that
spans several transactions (provisioning a tenant) claims the key in its first and answers in
its last; in between a duplicate gets a Conflict, until the claim's lease runs out: then the request
that took it is taken for dead (killed mid-work) and a retry takes the claim over. The claim
carries a `work_id` for the row the work creates, so a retry finds the row a dead request
committed instead of making a second one. Stored responses are sealed with the master key,
since one may carry a secret, and fingerprints are keyed hashes, since a body may carry a
password."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.clock import Clock
from tenantry.domain.identity.masterkey import SecretBox
from tenantry.domain.identity.secrets import SecretHasher
from tenantry.errors import Conflict
from tenantry.storage.database import Database
from tenantry.storage.tables import IDEMPOTENCY_RECORDS as RECORDS
from tenantry.storage.upsert import insert_on_conflict

RETENTION = timedelta(hours=24)
# Longer than any request may run (the request deadline is 30 s; provisioning a silo lifts no
# deadline): an unanswered claim this old belongs to a request that died.
LEASE = timedelta(minutes=2)
T = TypeVar("T")


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: Any


@dataclass(frozen=True)
class Claim:
    """This request holds the key: it does the work, giving what it creates `work_id`."""

    work_id: uuid.UUID
    since: datetime  # the lease's start; only the holder of this lease may answer or release


@dataclass(frozen=True)
class KeyClaim(Generic[T]):
    """A request's Idempotency-Key, for work that claims it itself, and how to render the
    answer stored for its repeats."""

    records: IdempotencyRecords
    user_id: uuid.UUID
    key: str
    fingerprint: str
    answer: Callable[[T], Any]


def _this_key(user_id: uuid.UUID, key: str) -> Any:
    return and_(RECORDS.c.user_id == user_id, RECORDS.c.key == key)


class IdempotencyRecords:
    def __init__(self, box: SecretBox, hasher: SecretHasher) -> None:
        self._box = box
        self._hasher = hasher  # under the hashing key, which outlives master-key rotations

    def fingerprint(self, request: Any) -> str:
        """What a key stands for: a keyed hash of `request` (JSON-able)."""
        return self._hasher.digest(json.dumps(request, sort_keys=True, separators=(",", ":")))

    async def claim_or_replay(
        self,
        session: AsyncSession,
        *,
        user_id: uuid.UUID,
        key: str,
        fingerprint: str,
        now: datetime,
    ) -> StoredResponse | Claim:
        """Claim `key` for this request (go ahead and do the work), or return the response
        stored for it. The same key with another request: Conflict `idempotency_key_reused`; while
        another request holds the claim: Conflict `idempotency_key_in_progress`."""
        connection = await session.connection()
        await connection.execute(
            delete(RECORDS).where(_this_key(user_id, key), RECORDS.c.created_at <= now - RETENTION)
        )
        work_id = uuid.uuid4()
        claim = (
            insert_on_conflict(session, RECORDS)
            .values(
                user_id=user_id, key=key, fingerprint=fingerprint, work_id=work_id, created_at=now
            )
            .on_conflict_do_nothing()
        )
        if (await connection.execute(claim)).rowcount == 1:
            return Claim(work_id, now)
        stored = (
            await connection.execute(
                select(
                    RECORDS.c.fingerprint,
                    RECORDS.c.status_code,
                    RECORDS.c.sealed_body,
                    RECORDS.c.work_id,
                ).where(_this_key(user_id, key))
            )
        ).one()
        if stored.fingerprint != fingerprint:
            raise Conflict(
                "This Idempotency-Key was used with a different request.",
                code="idempotency_key_reused",
            )
        if stored.status_code is None:  # claimed by work that spans several transactions
            return await self._take_over(session, user_id, key, stored.work_id, now=now)
        body = self._box.decrypt(stored.sealed_body, context=idempotency_context(user_id, key))
        return StoredResponse(stored.status_code, json.loads(body))

    async def _take_over(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        key: str,
        work_id: uuid.UUID | None,
        *,
        now: datetime,
    ) -> Claim:
        """The claim of a request that outlived its lease (it died); a Conflict while it may live.
        One conditional update: of racing retries, one wins the claim."""
        work_id = work_id or uuid.uuid4()  # a claim taken before claims carried one
        connection = await session.connection()
        taken = await connection.execute(
            update(RECORDS)
            .where(
                _this_key(user_id, key),
                RECORDS.c.status_code.is_(None),
                RECORDS.c.created_at <= now - LEASE,
            )
            .values(created_at=now, work_id=work_id)
        )
        if taken.rowcount != 1:
            raise key_in_progress()
        return Claim(work_id, now)

    async def store_response(
        self,
        session: AsyncSession,
        *,
        user_id: uuid.UUID,
        key: str,
        claim: Claim,
        response: StoredResponse,
    ) -> bool:
        """Answer the claim; False if this request's lease ran out and a retry took it over."""
        sealed = self._box.encrypt(
            json.dumps(response.body).encode(), context=idempotency_context(user_id, key)
        )
        connection = await session.connection()
        answered = await connection.execute(
            update(RECORDS)
            .where(_held(user_id, key, claim))
            .values(status_code=response.status_code, sealed_body=sealed)
        )
        return bool(answered.rowcount == 1)

    async def release(
        self, session: AsyncSession, *, user_id: uuid.UUID, key: str, claim: Claim
    ) -> None:
        """Give back a claim that was never answered (its work was undone), unless a retry
        has taken it over."""
        connection = await session.connection()
        await connection.execute(delete(RECORDS).where(_held(user_id, key, claim)))


def _held(user_id: uuid.UUID, key: str, claim: Claim) -> Any:
    """The key's record while still unanswered under `claim`'s lease."""
    return and_(
        _this_key(user_id, key),
        RECORDS.c.status_code.is_(None),
        RECORDS.c.created_at == claim.since,
    )


def key_in_progress() -> Conflict:
    return Conflict(
        "A request with this Idempotency-Key is still in progress; retry shortly.",
        code="idempotency_key_in_progress",
    )


def idempotency_context(user_id: uuid.UUID, key: str) -> str:
    return f"idempotency:{user_id}:{key}"


async def purge_expired(session: AsyncSession, *, now: datetime) -> int:
    connection = await session.connection()
    result = await connection.execute(
        delete(RECORDS).where(RECORDS.c.created_at <= now - RETENTION)
    )
    return result.rowcount


async def answer_once(
    session: AsyncSession,
    key: KeyClaim[T] | None,
    work: Callable[[], Awaitable[T]],
    *,
    now: datetime,
    status_code: int = 201,
) -> T | StoredResponse:
    """Do `work` in `session`'s transaction, once per key: the key is claimed in the same
    transaction and its answer stored there, so a racing duplicate waits for this transaction
    and then gets the answer back as a `StoredResponse`."""
    if key is None:
        return await work()
    claim = await key.records.claim_or_replay(
        session, user_id=key.user_id, key=key.key, fingerprint=key.fingerprint, now=now
    )
    if isinstance(claim, StoredResponse):
        return claim
    outcome = await work()
    answer = StoredResponse(status_code, key.answer(outcome))
    await key.records.store_response(
        session, user_id=key.user_id, key=key.key, claim=claim, response=answer
    )
    return outcome


async def answer_apart(
    db: Database,
    key: KeyClaim[T] | None,
    work: Callable[[uuid.UUID | None], Awaitable[T]],
    *,
    clock: Clock,
    status_code: int = 201,
) -> T | StoredResponse:
    """Like `answer_once`, for work with a unit of work of its own on another store (a
    tenant's data). The key is claimed in a core transaction committed before the work starts
    and answered in another after it, so no core write is held open across the work: on
    SQLite a pool tenant's store is the core database file, and a nested write would wait for
    itself. `work` gets the id to create its row with (None without a key; the claim's
    `work_id`, the same on a retry after the request that claimed the key died, so that it
    finds the row if that request had committed it). A failed attempt gives the key back; a
    repeat arriving while the work runs gets Conflict `idempotency_key_in_progress`."""
    if key is None:
        return await work(None)
    async with db.transaction() as session:
        claim = await key.records.claim_or_replay(
            session, user_id=key.user_id, key=key.key, fingerprint=key.fingerprint, now=clock.now()
        )
    if isinstance(claim, StoredResponse):
        return claim
    try:
        outcome = await work(claim.work_id)
    except BaseException:
        async with db.transaction() as session:
            await key.records.release(session, user_id=key.user_id, key=key.key, claim=claim)
        raise
    async with db.transaction() as session:
        answer = StoredResponse(status_code, key.answer(outcome))
        await key.records.store_response(
            session, user_id=key.user_id, key=key.key, claim=claim, response=answer
        )
    return outcome
