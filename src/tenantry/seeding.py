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

The rows go in through `storage.bulk_load` (COPY on PostgreSQL, one `executemany`
transaction on SQLite): all of them, or none. A development tool, not a domain service: it
writes the rows onboarding would write, straight into the tables."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tenantry.domain.identity.passwords import PasswordHasher
from tenantry.domain.identity.toolkit import email_key
from tenantry.domain.plans.catalog import DEFAULT_PLAN, PlanCatalog
from tenantry.errors import Conflict
from tenantry.storage.bulk_load import (
    AlreadyLoaded,
    BulkTable,
    Guard,
    Progress,
    StepTimes,
    bulk_load,
)
from tenantry.storage.database import Database

SEED_PASSWORD = "seeded accounts share this password"  # noqa: S105 - published, test data
SEED_DOMAIN = "seed.example"
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
    times = StepTimes(progress)
    times.seconds["password hash"] = time.perf_counter() - started
    tenants = counts.users + counts.organizations
    tables = [
        BulkTable("users", _USER_COLUMNS, plan.user_rows, counts.users),
        BulkTable("tenants", _TENANT_COLUMNS, plan.tenant_rows, tenants),
        BulkTable("memberships", _MEMBERSHIP_COLUMNS, plan.membership_rows, counts.memberships),
    ]
    seeded = Guard("users", "email_key", email_key(seed_email(0)))
    try:
        await bulk_load(db, tables, guard=seeded, stamp=stamp, times=times)
    except AlreadyLoaded:
        raise AlreadySeeded from None
    return SeedReport(counts, times.seconds)
