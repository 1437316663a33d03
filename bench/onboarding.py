"""Onboarding transactions per second without password hashing, in process, no HTTP
(targets: >= 1000/s on SQLite, >= 400/s on PostgreSQL).

Set-up (untimed) inserts unconfirmed users the way sign-up does. The timed part runs, from
concurrent asyncio tasks, what confirming a new address runs: in one `Database.transaction()`,
load the user by email and `activate_user(..., password_hash=None)` (confirm, revoke sessions,
personal tenant, owner membership, first project, two environments, default tenant, outbox
events). Next to it, the smallest write transaction through the same `Database` (one UPDATE
of one user row) is measured as the reference for the ratio."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select, update

from bench import summary
from bench.databases import BackendUnavailable, bench_database, with_driver
from bench.fixtures import bench_emails, insert_unconfirmed_users, onboard
from bench.options import Options, parse
from bench.report import Table, verdict
from tenantry.clock import Clock
from tenantry.storage.database import Database
from tenantry.storage.migrate import upgrade_async
from tenantry.storage.models import Tenant, User

DRIVERS = {
    "sqlite": [("sqlite+aiosqlite", 1000.0)],
    "postgresql": [("postgresql+asyncpg", 400.0)],
}
USERS_PER_RUN = 8000  # more than a run can onboard here; a faster machine ends a run early
REFERENCE_SHARE = 0.5  # the reference run lasts this share of --duration
COLUMNS = (
    "driver",
    "tasks",
    "onboardings",
    "tx/s",
    "p50 ms",
    "p99 ms",
    "1-row write tx/s",
    "ratio to 1-row write",
    "target",
)


@dataclass(frozen=True)
class Timed:
    count: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def percentile_ms(self, share: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return 0.0
        return 1000 * ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def timed(
    work: Callable[[str], Awaitable[bool]], items: Iterator[str], *, tasks: int, seconds: float
) -> Timed:
    """Run `work` on `items` from `tasks` concurrent tasks until time or items run out."""
    latencies: list[float] = []
    started = time.perf_counter()
    deadline = started + seconds

    async def worker() -> None:
        for item in items:
            if time.perf_counter() >= deadline:
                return
            begun = time.perf_counter()
            if await work(item):
                latencies.append(time.perf_counter() - begun)

    await asyncio.gather(*(worker() for _ in range(tasks)))
    return Timed(len(latencies), time.perf_counter() - started, latencies)


async def measure_driver(url: str, *, tag: str, tasks: int, seconds: float) -> tuple[Timed, Timed]:
    """(one-row write reference, onboarding) for one driver URL."""
    db = Database(url)
    try:
        emails = bench_emails(tag, USERS_PER_RUN)
        ids = await insert_unconfirmed_users(db, emails)
        by_email = dict(zip(emails, ids, strict=True))

        async def touch(email: str) -> bool:
            async with db.transaction() as session:
                await session.execute(
                    update(User).where(User.id == by_email[email]).values(updated_at=Clock().now())
                )
            return True

        async def confirm(email: str) -> bool:
            return await onboard(db, email, password_hash=None)

        reference = await timed(touch, iter(emails), tasks=tasks, seconds=seconds * REFERENCE_SHARE)
        onboarded = await timed(confirm, iter(emails), tasks=tasks, seconds=seconds)
        async with db.read() as session:
            tenants = await session.scalar(
                select(func.count()).select_from(Tenant).where(Tenant.name.like(f"{tag}.%"))
            )
        if tenants != onboarded.count:
            raise RuntimeError(f"{onboarded.count} onboardings but {tenants} workspaces")
        return reference, onboarded
    finally:
        await db.dispose()


async def measure_backend(options: Options, table: Table, backend: str, url: str) -> None:
    await upgrade_async(url)
    for driver, target in DRIVERS[backend]:
        for tasks in sorted({1, options.concurrency}):
            reference, onboarded = await measure_driver(
                with_driver(url, driver),
                tag=f"{driver.replace('+', '-')}-{tasks}",
                tasks=tasks,
                seconds=options.duration,
            )
            goal = f">= {target:,.0f}/s"
            if tasks == options.concurrency:
                goal += f": {verdict(onboarded.rate, target)}"
                summary.record(
                    "onboarding",
                    f"onboarding transactions/s, {tasks} tasks ({driver})",
                    f">= {target:,.0f}/s",
                    f"{onboarded.rate:,.0f}/s",
                    summary.at_least(onboarded.rate, target),
                )
            table.add(
                driver,
                tasks,
                onboarded.count,
                onboarded.rate,
                onboarded.percentile_ms(0.5),
                onboarded.percentile_ms(0.99),
                reference.rate,
                f"{onboarded.rate / reference.rate:.2f}",
                goal,
            )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(__doc__ or "", argv)
    table = Table("Onboarding transactions, in process, no hashing", COLUMNS)
    table.notes += [
        "the verdict is for the row with the configured task count (--concurrency); the "
        "1-task row shows what concurrency adds",
        f"'1-row write' = one UPDATE of one user row per transaction, run for "
        f"{REFERENCE_SHARE:.0%} of --duration just before the onboarding run, same tasks",
        "every run checks that it created exactly one workspace per onboarding",
    ]
    for backend in options.backends:
        try:
            with (
                tempfile.TemporaryDirectory(prefix="tenantry-bench-onboarding-") as tmp,
                bench_database(
                    backend, tag="onboarding", workdir=Path(tmp), postgres_url=options.postgres_url
                ) as url,
            ):
                asyncio.run(measure_backend(options, table, backend, url))
        except BackendUnavailable as error:
            table.notes.append(f"{backend} skipped: {error}")
    table.print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
