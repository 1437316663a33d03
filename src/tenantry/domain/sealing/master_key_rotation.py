"""Master-key rotation: every sealed value (see `registry`) re-encrypted under a new key in one
database transaction, and the settling of a rotation a crash interrupted. Servers hold the
master key in memory, so every running server must be restarted after a rotation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import structlog
from cryptography.exceptions import InvalidTag
from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.identity.masterkey import (
    NEXT_KEY_FILE,
    SecretBox,
    discard_next_key,
    promote_next_key,
    read_key_file,
    write_next_key,
)
from tenantry.domain.sealing.registry import SEALED_COLUMNS, SealedColumn
from tenantry.domain.sealing.stored import MasterKeyMismatch
from tenantry.errors import Conflict, InvalidInput
from tenantry.storage.database import Database

log = structlog.get_logger("tenantry.sealing")
UNREADABLE_LISTED = 5


class UnreadableSecrets(Conflict):
    """A sealed value does not open under the current master key (tampered or corrupt)."""

    code = "sealed_value_unreadable"


async def rotate_master_key(
    db: Database, box: SecretBox, *, new_key: bytes, data_dir: Path | None
) -> int:
    """Re-encrypt every sealed value under `new_key` in one transaction, then make `box` use
    it; returns how many values were re-encrypted. `data_dir` given (a data-dir key): the new
    key is staged in `master.key.next` before the commit and promoted to `master.key` after
    it; a crash in between is settled at the next start by `finish_pending_rotation`."""
    if new_key == box.master_key:
        raise InvalidInput("The new master key is the current one.", code="same_master_key")
    async with db.transaction() as session:
        count = await reseal_all(session, old=box, new=SecretBox(new_key))
        if data_dir is not None:
            write_next_key(data_dir, new_key)
    if data_dir is not None:
        promote_next_key(data_dir)
    box.use(new_key, previous=(box.master_key,))
    return count


async def reseal_all(session: AsyncSession, *, old: SecretBox, new: SecretBox) -> int:
    """Re-encrypt every registered sealed value from `old` to `new`. Writes nothing, raising
    `UnreadableSecrets`, if any value does not open under `old`."""
    planned: list[tuple[SealedColumn, list[dict[str, Any]]]] = []
    unreadable: list[str] = []
    for column in SEALED_COLUMNS:
        updates, failed = await _reseal(session, column, old=old, new=new)
        planned.append((column, updates))
        unreadable.extend(failed)
    if unreadable:
        listed = "; ".join(unreadable[:UNREADABLE_LISTED])
        raise UnreadableSecrets(
            f"{len(unreadable)} sealed value(s) do not open under the current master key "
            f"({listed}). Nothing was changed."
        )
    for column, updates in planned:
        if updates:
            await session.execute(_update_statement(column), updates)
    return sum(len(updates) for _, updates in planned)


async def _reseal(
    session: AsyncSession, column: SealedColumn, *, old: SecretBox, new: SecretBox
) -> tuple[list[dict[str, Any]], list[str]]:
    table = column.table
    sealed = table.c[column.column]
    statement = (
        select(*(table.c[key] for key in column.keys), sealed)
        .where(sealed.is_not(None))
        .with_for_update()
    )
    updates: list[dict[str, Any]] = []
    failed: list[str] = []
    for row in (await session.execute(statement)).mappings():
        context = column.context_of(row)
        try:
            plaintext = old.decrypt(row[column.column], context=context)
        except (InvalidTag, ValueError):
            names = ", ".join(f"{key}={row[key]}" for key in column.keys)
            failed.append(f"{column.table_name}.{column.column} [{names}]")
            continue
        values = {f"key_{key}": row[key] for key in column.keys}
        updates.append({**values, "resealed": new.encrypt(plaintext, context=context)})
    return updates, failed


def _update_statement(column: SealedColumn) -> Any:
    table = column.table
    return (
        update(table)
        .where(and_(*(table.c[key] == bindparam(f"key_{key}") for key in column.keys)))
        .values({column.column: bindparam("resealed")})
    )


async def finish_pending_rotation(db: Database, box: SecretBox, *, data_dir: Path) -> None:
    """Settle a rotation interrupted between staging `master.key.next` and promoting it: the
    staged key is promoted if the database is sealed under it (the re-encryption committed),
    else discarded. Found out by opening one sealed value, the hashing key first."""
    staged = read_key_file(data_dir / NEXT_KEY_FILE)
    if staged is None:
        return
    probe = await _probe(db)
    if probe is None or _opens(SecretBox(staged), probe):
        promote_next_key(data_dir)
        box.use(staged, previous=(box.master_key,))
        log.warning("master_key_rotation_finished", data_dir=str(data_dir))
    elif _opens(box, probe):
        discard_next_key(data_dir)
        log.warning("master_key_rotation_discarded", data_dir=str(data_dir))
    else:
        raise MasterKeyMismatch(
            f"Neither master.key nor {NEXT_KEY_FILE} in {data_dir} opens this database's secrets."
        )


async def _probe(db: Database) -> tuple[str, bytes] | None:
    """One sealed value and its context, from the first registered column that has one."""
    async with db.read() as session:
        for column in SEALED_COLUMNS:
            table = column.table
            sealed = table.c[column.column]
            statement = select(*(table.c[key] for key in column.keys), sealed).where(
                sealed.is_not(None)
            )
            row = (await session.execute(statement.limit(1))).mappings().first()
            if row is not None:
                return column.context_of(row), row[column.column]
    return None


def _opens(box: SecretBox, probe: tuple[str, bytes]) -> bool:
    context, sealed = probe
    try:
        box.decrypt(sealed, context=context)
    except (InvalidTag, ValueError):
        return False
    return True
