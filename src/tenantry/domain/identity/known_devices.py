"""The devices each account has signed in from, so that a sign-in from another one can be
mailed to its owner (OWASP ASVS 2.2.3). A device is what every client shows, browser or API
script alike: its user agent without version numbers (an update is the same device) and the
network of its address (IPv4 /24, IPv6 /48), kept only as a keyed hash per account.

Every sign-in runs one indexed upsert in the transaction that opens its session; only a device
not seen before costs a second statement, to tell an account's first sign-in (nothing to warn
about) from a new device."""

from __future__ import annotations

import ipaddress
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from tenantry.domain.identity.secrets import SecretHasher
from tenantry.domain.identity.sessions import ClientInfo
from tenantry.storage.models import KnownDevice
from tenantry.storage.tables import KNOWN_DEVICES

# last_seen_at is written at most this often: it only decides when a device is forgotten.
TOUCH_EVERY = timedelta(days=1)
# A device unseen this long is forgotten (the retention purge), except an account's latest.
FORGET_AFTER = timedelta(days=180)
VERSION = re.compile(r"[0-9][0-9._]*")
NETWORK_PREFIX = {4: 24, 6: 48}


def _upsert(insert: Any) -> Any:
    statement = insert(KNOWN_DEVICES).values(
        id=bindparam("id"),
        user_id=bindparam("user_id"),
        device_hash=bindparam("device_hash"),
        first_seen_at=bindparam("now"),
        last_seen_at=bindparam("now"),
    )
    return statement.on_conflict_do_update(
        index_elements=[KNOWN_DEVICES.c.user_id, KNOWN_DEVICES.c.device_hash],
        set_={"last_seen_at": statement.excluded.last_seen_at},
        where=KNOWN_DEVICES.c.last_seen_at < bindparam("touch_before"),
    ).returning(KNOWN_DEVICES.c.id)


# The row's id comes back when it was inserted (ours) or touched (its own); nothing when it
# was seen within TOUCH_EVERY.
_UPSERT = {"postgresql": _upsert(postgresql.insert), "sqlite": _upsert(sqlite.insert)}
_OTHER_DEVICE = select(
    exists().where(
        KNOWN_DEVICES.c.user_id == bindparam("user_id"), KNOWN_DEVICES.c.id != bindparam("id")
    )
)


def device_parts(client: ClientInfo) -> tuple[str, str]:
    """The normalized user agent and the network of the client's address ("" if unknown)."""
    agent = " ".join(VERSION.sub("", (client.user_agent or "").lower()).split())[:500]
    try:
        address = ipaddress.ip_address(client.ip or "")
    except ValueError:
        return agent, ""
    network = ipaddress.ip_network(f"{address}/{NETWORK_PREFIX[address.version]}", strict=False)
    return agent, str(network)


async def is_new_device(
    session: AsyncSession,
    *,
    hasher: SecretHasher,
    user_id: uuid.UUID,
    client: ClientInfo,
    now: datetime,
) -> bool:
    """Remember the device signing in to `user_id`; True only the first time a device other
    than the account's first one signs in. Parallel sign-ins from one new device insert one
    row between them (the unique key), so only one of them is told it is new."""
    row_id = uuid.uuid4()
    connection = await session.connection()
    result = await connection.execute(
        _UPSERT[connection.dialect.name],
        {
            "id": row_id,
            "user_id": user_id,
            "device_hash": hasher.digest("known-device", str(user_id), *device_parts(client)),
            "now": now,
            "touch_before": now - TOUCH_EVERY,
        },
    )
    if result.scalar_one_or_none() != row_id:
        return False
    others = await connection.execute(_OTHER_DEVICE, {"user_id": user_id, "id": row_id})
    return bool(others.scalar_one())


def forgotten_devices(now: datetime) -> ColumnElement[bool]:
    """The devices the retention purge may delete at `now`: unseen for FORGET_AFTER, unless
    the account has seen no device since (its latest is kept, so a sign-in after a long
    absence is still told apart from an account's very first)."""
    newer = aliased(KnownDevice)
    return and_(
        KNOWN_DEVICES.c.last_seen_at < now - FORGET_AFTER,
        exists().where(
            newer.user_id == KNOWN_DEVICES.c.user_id,
            newer.last_seen_at > KNOWN_DEVICES.c.last_seen_at,
        ),
    )
