"""Process-wide secrets kept sealed in the `sealed_secrets` table. The first is the hashing
key: the HMAC keys of one-time codes and invitation tokens derive from it rather than from the
master key, so a master-key rotation leaves every outstanding code and token valid."""

from __future__ import annotations

from datetime import datetime

from cryptography.exceptions import InvalidTag
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.identity.masterkey import SecretBox, new_master_key
from tenantry.errors import DomainError
from tenantry.storage.database import Database
from tenantry.storage.models import EmailCode, Invitation, SealedSecret
from tenantry.storage.upsert import insert_on_conflict

HASHING_KEY = "hashing-key"


class MasterKeyMismatch(DomainError):
    """The configured master key does not open the database's secrets."""

    code = "master_key_mismatch"
    title = "Wrong master key"


def sealed_secret_context(name: str) -> str:
    return f"sealed-secret:{name}"


async def load_or_create_hashing_key(db: Database, box: SecretBox, *, now: datetime) -> bytes:
    """The hashing key, created on first start: random on a new database; on one that already
    holds keyed hashes, the master key itself, from which those hashes' keys were derived
    before the hashing key existed."""
    async with db.read() as session:
        sealed = await _sealed(session, HASHING_KEY)
    if sealed is None:
        async with db.transaction() as session:
            value = box.master_key if await _holds_keyed_hashes(session) else new_master_key()
            await put_if_absent(session, box, name=HASHING_KEY, value=value, now=now)
            sealed = await _sealed(session, HASHING_KEY)
    assert sealed is not None
    try:
        return box.decrypt(sealed, context=sealed_secret_context(HASHING_KEY))
    except InvalidTag as error:
        raise MasterKeyMismatch(
            "The master key does not open this database's secrets. After a master-key "
            "rotation, TENANTRY_MASTER_KEY must be set to the new key."
        ) from error


async def put_if_absent(
    session: AsyncSession, box: SecretBox, *, name: str, value: bytes, now: datetime
) -> None:
    """Seal and store `value` under `name` unless another process stored one first."""
    sealed = box.encrypt(value, context=sealed_secret_context(name))
    statement = (
        insert_on_conflict(session, SealedSecret.__table__)
        .values(name=name, sealed_value=sealed, created_at=now, updated_at=now)
        .on_conflict_do_nothing()
    )
    await session.execute(statement)


async def _sealed(session: AsyncSession, name: str) -> bytes | None:
    return await session.scalar(select(SealedSecret.sealed_value).where(SealedSecret.name == name))


async def _holds_keyed_hashes(session: AsyncSession) -> bool:
    """Whether any row holds a hash keyed by a `SecretHasher` (mailed codes, invitations)."""
    found = select(exists(select(EmailCode.id)) | exists(select(Invitation.id)))
    return bool(await session.scalar(found))
