"""A bulk loader of synthetic accounts for scale tests (`tenantry dev seed`): users, their
personal tenants and owner memberships, and organizations with their members.

Every user is confirmed and shares ONE password hash: the Argon2 hash of `SEED_PASSWORD`,
computed once with the configured hasher (hashing a million passwords would take hours), so
every seeded user can log in with `seed_email(i)` and `SEED_PASSWORD`. Each user gets what
onboarding gives a confirmed user that matters to identity and tenancy: a `personal` tenant on
the default plan, its owner membership and the user's default tenant (not the first project
and environments, nor the outbox events). Organizations are `organization` tenants on the
cheapest pool plan whose member limit holds their members; member `i` of organization `j` is
the user at position `start_j + i` (wrapping), so org memberships spread evenly over users.

Ids are version-4-shaped UUIDs made of a random prefix per run and table and a sequence number,
so each table's rows arrive in key order (B-tree appends instead of random page writes).

PostgreSQL: one transaction that locks the three tables, drops their foreign keys and plain
(non-unique) indexes, loads with COPY, then recreates every dropped index and foreign key from
the definitions read from the catalog before dropping them (re-creating a foreign key checks
every row with one join, much cheaper than a trigger per loaded row). Primary keys, unique and
check constraints stay in place all along, and any failure rolls everything back; the three
tables stay locked (ACCESS EXCLUSIVE) until it commits. SQLite: one
`executemany` transaction whose foreign keys are checked in bulk (`PRAGMA foreign_key_check`)
before it commits."""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from tenantry.domain.identity.deps import email_key
from tenantry.domain.identity.passwords import PasswordHasher
from tenantry.domain.plans.catalog import DEFAULT_PLAN, PlanCatalog
from tenantry.errors import Conflict
from tenantry.storage.database import Database

SEED_PASSWORD = "seeded accounts share this password"  # noqa: S105 - published, test data
SEED_DOMAIN = "seed.example"
_TABLES = ("users", "tenants", "memberships")
_ORG_ROLES = ("admin", "editor", "viewer")
_VARIANT = 0b10 << 62
_VERSION_MASK = ~(0xF << 12) & (2**64 - 1)
_VERSION_4 = 0x4 << 12

_USER_COLUMNS = (
    "id",
    "email",
    "email_key",
    "name",
    "password_hash",
    "email_verified",
    "is_platform_admin",
    "default_tenant_id",
    "tokens_valid_after",
    "created_at",
    "updated_at",
)
_TENANT_COLUMNS = (
    "id",
    "name",
    "kind",
    "plan",
    "status",
    "isolation",
    "profile",
    "metadata",
    "feature_overrides",
    "personal_owner_id",
    "created_at",
    "updated_at",
)
_MEMBERSHIP_COLUMNS = ("id", "tenant_id", "user_id", "role", "created_at", "updated_at")

Progress = Callable[[str], None]


def seed_email(index: int) -> str:
    """The address of seeded user `index` (0-based)."""
    return f"seed-{index:07d}@{SEED_DOMAIN}"


class AlreadySeeded(Conflict):
    def __init__(self) -> None:
        super().__init__(
            f"The database already holds seeded users ({seed_email(0)}); seed an empty one.",
            code="already_seeded",
        )


@dataclass(frozen=True)
class SeedCounts:
    """`memberships` counts every membership: one owner membership per personal tenant plus
    the organizations' (each at least its owner)."""

    users: int
    organizations: int
    memberships: int

    def __post_init__(self) -> None:
        if self.users < 1 or self.organizations < 0:
            raise ValueError("seed at least one user, and no negative number of organizations")
        extra = self.memberships - self.users
        if self.organizations == 0 and extra != 0:
            raise ValueError("without organizations, memberships must equal users")
        if self.organizations and extra < self.organizations:
            raise ValueError(
                f"{self.memberships} memberships leave fewer than one per organization after "
                f"the {self.users} personal owner memberships"
            )
        if self.organizations and self.largest_organization > self.users:
            raise ValueError("an organization cannot have more members than there are users")

    @property
    def org_memberships(self) -> int:
        return self.memberships - self.users

    @property
    def largest_organization(self) -> int:
        if not self.organizations:
            return 0
        return -(-self.org_memberships // self.organizations)

    def organization_size(self, index: int) -> int:
        base, remainder = divmod(self.org_memberships, self.organizations)
        return base + (1 if index < remainder else 0)


@dataclass
class SeedReport:
    counts: SeedCounts
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())


def organization_plan(plans: PlanCatalog, members: int) -> str:
    """The cheapest pool-isolated plan whose member limit admits `members`."""
    fitting = [
        plan
        for plan in plans.all()
        if plan.isolation == "pool" and plan.limits.get("members", members) >= members
    ]
    if not fitting:
        raise ValueError(f"no pool plan admits {members} members")
    return min(fitting, key=lambda plan: plan.monthly_price_cents).id


class _Ids:
    """Sequential, version-4-shaped ids under a random per-run prefix, as 32-digit hex (what
    the `Uuid` column stores on SQLite; asyncpg parses it in C)."""

    def __init__(self) -> None:
        self._prefix = f"{(secrets.randbits(64) & _VERSION_MASK) | _VERSION_4:016x}"

    def __call__(self, sequence: int) -> str:
        return f"{self._prefix}{_VARIANT | sequence:016x}"


@dataclass(frozen=True)
class _Plan:
    """Every row of the seed, generated lazily in key order."""

    counts: SeedCounts
    password_hash: str
    org_plan: str
    users: _Ids = field(default_factory=_Ids)
    tenants: _Ids = field(default_factory=_Ids)
    memberships: _Ids = field(default_factory=_Ids)

    def user_rows(self, stamp: object) -> Iterator[tuple[object, ...]]:
        user, tenant, password_hash = self.users, self.tenants, self.password_hash
        for index in range(self.counts.users):
            email = seed_email(index)
            yield (
                user(index),
                email,
                email_key(email),
                "",
                password_hash,
                True,
                False,
                tenant(index),
                stamp,
                stamp,
                stamp,
            )

    def tenant_rows(self, stamp: object) -> Iterator[tuple[object, ...]]:
        user, tenant, users = self.users, self.tenants, self.counts.users
        for index in range(users):
            # onboarding's workspace_name() for a user without a name
            name = f"seed-{index:07d}'s workspace"
            yield (
                tenant(index),
                name,
                "personal",
                DEFAULT_PLAN,
                "active",
                "pool",
                "{}",
                "{}",
                "{}",
                user(index),
                stamp,
                stamp,
            )
        for index in range(self.counts.organizations):
            yield (
                tenant(users + index),
                f"Seed organization {index:06d}",
                "organization",
                self.org_plan,
                "active",
                "pool",
                "{}",
                "{}",
                "{}",
                None,
                stamp,
                stamp,
            )

    def membership_rows(self, stamp: object) -> Iterator[tuple[object, ...]]:
        user, tenant, membership = self.users, self.tenants, self.memberships
        counts, users = self.counts, self.counts.users
        for index in range(users):
            yield (membership(index), tenant(index), user(index), "owner", stamp, stamp)
        sequence, position = users, 0
        for org in range(counts.organizations):
            org_id = tenant(users + org)
            for member in range(counts.organization_size(org)):
                role = "owner" if member == 0 else _ORG_ROLES[(member - 1) % 3]
                user_id = user((position + member) % users)
                yield (membership(sequence), org_id, user_id, role, stamp, stamp)
                sequence += 1
            position += counts.organization_size(org)


async def seed(
    db: Database,
    counts: SeedCounts,
    *,
    passwords: PasswordHasher,
    plans: PlanCatalog,
    progress: Progress = lambda _line: None,
    now: datetime | None = None,
) -> SeedReport:
    """Load `counts` into the (migrated) core database. Refuses, changing nothing, a database
    that already holds seeded users (`AlreadySeeded`)."""
    stamp = (now or datetime.now(UTC)).replace(microsecond=0)
    started = time.perf_counter()
    password_hash = await passwords.hash(SEED_PASSWORD)
    org_plan = organization_plan(plans, max(counts.largest_organization, 1))
    plan = _Plan(counts, password_hash, org_plan)
    report = SeedReport(counts, {"password hash": time.perf_counter() - started})
    if db.dialect == "postgresql":
        await _seed_postgres(db, plan, stamp, report, progress)
    else:
        path = db.url.database or ""
        await asyncio.to_thread(_seed_sqlite, path, plan, stamp, report, progress)
    return report


class _Timer:
    def __init__(self, report: SeedReport, progress: Progress) -> None:
        self._report = report
        self._progress = progress

    def step(self, name: str, rows: int | None = None) -> _Step:
        return _Step(self, name, rows)

    def done(self, name: str, rows: int | None, seconds: float) -> None:
        self._report.seconds[name] = self._report.seconds.get(name, 0.0) + seconds
        counted = f"{rows:,} rows " if rows is not None else ""
        self._progress(f"{name}: {counted}in {seconds:.1f} s")


class _Step:
    def __init__(self, timer: _Timer, name: str, rows: int | None) -> None:
        self._timer, self._name, self._rows = timer, name, rows

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(self, kind: object, *_rest: object) -> None:
        if kind is None:
            self._timer.done(self._name, self._rows, time.perf_counter() - self._started)


# --- PostgreSQL -------------------------------------------------------------------------------

_DROPPABLE = """
SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname),
       format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname,
              pg_get_constraintdef(oid))
FROM pg_constraint
WHERE contype = 'f' AND conrelid = ANY($1::regclass[])
UNION ALL
SELECT format('DROP INDEX %s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid)
FROM pg_index i
WHERE i.indrelid = ANY($1::regclass[]) AND NOT i.indisunique AND NOT EXISTS (
    SELECT 1 FROM pg_constraint c
    WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x')
)
"""


async def _seed_postgres(
    db: Database, plan: _Plan, stamp: datetime, report: SeedReport, progress: Progress
) -> None:

    plain = db.url.set(drivername="postgresql").render_as_string(hide_password=False)
    connection: Any = await asyncpg.connect(plain)
    timer = _Timer(report, progress)
    counts = plan.counts
    try:
        async with connection.transaction():
            await connection.execute("SET LOCAL maintenance_work_mem = '256MB'")
            await connection.execute("SET LOCAL synchronous_commit = off")
            await connection.execute(f"LOCK TABLE {', '.join(_TABLES)} IN ACCESS EXCLUSIVE MODE")
            if await connection.fetchval(
                "SELECT 1 FROM users WHERE email_key = $1", email_key(seed_email(0))
            ):
                raise AlreadySeeded
            statements: Sequence[tuple[str, str]] = await connection.fetch(
                _DROPPABLE, list(_TABLES)
            )
            with timer.step(f"drop {len(statements)} foreign keys and plain indexes"):
                for drop, _create in statements:
                    await connection.execute(drop)
            with timer.step("users", counts.users):
                await _copy(connection, "users", _USER_COLUMNS, plan.user_rows(stamp))
            with timer.step("tenants", counts.users + counts.organizations):
                await _copy(connection, "tenants", _TENANT_COLUMNS, plan.tenant_rows(stamp))
            with timer.step("memberships", counts.memberships):
                rows = plan.membership_rows(stamp)
                await _copy(connection, "memberships", _MEMBERSHIP_COLUMNS, rows)
            # Indexes first: checking a foreign key may use them.
            ordered = sorted(statements, key=lambda pair: not pair[1].startswith("CREATE"))
            for _drop, create in ordered:
                with timer.step(create.split(" ON ")[0].split(" REFERENCES ")[0]):
                    await connection.execute(create)
        with timer.step("analyze"):
            await connection.execute(f"ANALYZE {', '.join(_TABLES)}")
    finally:
        await connection.close()


async def _copy(
    connection: Any, table: str, columns: Sequence[str], rows: Iterator[tuple[object, ...]]
) -> None:
    await connection.copy_records_to_table(table, records=rows, columns=list(columns))


# --- SQLite -----------------------------------------------------------------------------------


def _seed_sqlite(
    path: str, plan: _Plan, stamp: datetime, report: SeedReport, progress: Progress
) -> None:
    # The format SQLAlchemy's SQLite DateTime writes (UTCDateTime stores naive UTC).
    text_stamp = stamp.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    timer = _Timer(report, progress)
    counts = plan.counts
    connection = sqlite3.connect(path, isolation_level=None, timeout=30.0)
    try:
        # Checked once, in bulk, before the commit (below) instead of row by row: with users
        # and tenants referring to each other, deferred row checks would scan the unindexed
        # users.default_tenant_id for every tenant.
        connection.execute("PRAGMA foreign_keys=OFF")
        connection.execute("PRAGMA cache_size=-524288")  # 512 MiB for this load
        connection.execute("BEGIN IMMEDIATE")
        try:
            found = connection.execute(
                "SELECT 1 FROM users WHERE email_key = ?", (email_key(seed_email(0)),)
            ).fetchone()
            if found:
                raise AlreadySeeded
            with timer.step("users", counts.users):
                _insert(connection, "users", _USER_COLUMNS, plan.user_rows(text_stamp))
            with timer.step("tenants", counts.users + counts.organizations):
                _insert(connection, "tenants", _TENANT_COLUMNS, plan.tenant_rows(text_stamp))
            with timer.step("memberships", counts.memberships):
                rows = plan.membership_rows(text_stamp)
                _insert(connection, "memberships", _MEMBERSHIP_COLUMNS, rows)
            with timer.step("foreign key check"):
                for table in _TABLES:
                    violation = connection.execute(f"PRAGMA foreign_key_check({table})").fetchone()
                    if violation is not None:
                        raise RuntimeError(f"seeding broke a foreign key: {tuple(violation)}")
            with timer.step("commit"):
                connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
    finally:
        connection.close()


def _insert(
    connection: sqlite3.Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterator[tuple[object, ...]],
) -> None:
    placeholders = ", ".join("?" for _ in columns)
    statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"  # noqa: S608
    connection.executemany(statement, rows)
