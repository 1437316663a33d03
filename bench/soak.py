"""Soak (`make soak`; SECURITY-TESTS.md case 44): a real `tenantry serve` under --minutes
(default 10) of mixed traffic from --users (default 6) virtual users (bench/soak_traffic.py:
sign-ups confirmed with the mailed code, password logins, refreshes, tenant-checked reads,
invitations created and accepted, logouts, mistyped passwords), on each --backend in turn.
A row per minute: requests, errors, p50 and p99 latency, the resident memory of the server's
processes and the rows of the credential tables. Then a verdict per target, and exit status 1
when one is missed:

- errors: none (a status other than the one the step must answer, no answer within 30 s, or no
  mail within 30 s);
- p99 stable: the median p99 of the last three minutes at most twice the first minute's;
- RSS of the server's processes: grows < 10% from the end of the first minute (warm-up) to
  the end;
- spent credentials purged: at no sample a row the retention purge has been allowed to delete
  for two purge intervals and 5 s (`spent_credentials`: the purge's own conditions).

So that the clean-up shows within minutes, the server runs with short credential lifetimes
(`Lifetimes`, the settings an operator has): refresh tokens 300 s (the shortest allowed), access
tokens 120 s (so the verified-token cache, one lifetime's tokens, levels off too), codes and
lockout windows 60 s, 30 s of grace once a credential is spent, a purge every 30 s.
Sessions logged out go about a minute later, those left to expire (every 4th member sign-in)
some six minutes after the sign-in; from then on the credential rows stay level, while users,
tenants and memberships grow with the sign-ups, as they should."""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import ColumnElement, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from tests.support.mailbox import SmtpServer

from bench.databases import BackendUnavailable
from bench.options import Options, parse
from bench.report import Table as Report
from bench.server import Deployment, deployment, process_tree, running_server
from bench.soak_traffic import Interval, Traffic, drive
from tenantry.clock import Clock
from tenantry.domain.identity.retention import spent_credentials
from tenantry.storage.database import Database
from tenantry.storage.tables import (
    EMAIL_CODES,
    LOGIN_THROTTLES,
    REFRESH_TOKENS,
    SESSIONS,
    USERS,
    WEB_SESSIONS,
)

MINUTE = 60.0
DEFAULT_USERS = 6
RSS_TARGET = 0.10
P99_TARGET = 2.0
DRIFT_TAIL = 3  # the last periods whose median p99 is compared with the first period's
OVERDUE_SLACK = 5  # seconds a purge run may take under load
CREDENTIAL_TABLES: dict[str, Table] = {
    "sessions": SESSIONS,
    "refresh tokens": REFRESH_TOKENS,
    "codes": EMAIL_CODES,
    "web sessions": WEB_SESSIONS,
    "lockout windows": LOGIN_THROTTLES,
}
COLUMNS = (
    "until",
    "requests",
    "errors",
    "p50 ms",
    "p99 ms",
    "RSS MB",
    *CREDENTIAL_TABLES,
    "overdue",
    "users",
)


@dataclass(frozen=True)
class Lifetimes:
    """The server's credential lifetimes and purge interval, in seconds."""

    refresh_token_ttl: int = 300  # the shortest Settings allows
    access_token_ttl: int = 120  # what the verified-token cache holds: one lifetime's tokens
    code_ttl: int = 60
    login_failure_window: int = 60
    address_mail_window: int = 60
    credential_grace: int = 30
    purge_interval: int = 30

    def settings(self) -> dict[str, str]:
        return {
            f"TENANTRY_{item.name.upper()}": str(getattr(self, item.name)) for item in fields(self)
        }

    @property
    def longest(self) -> int:
        """How long a credential row can live: a session left to expire, until the purge."""
        return self.refresh_token_ttl + self.credential_grace + self.purge_interval

    def overdue(self, now: datetime) -> dict[str, tuple[Table, ColumnElement[bool]]]:
        """The rows the purge has been allowed to delete for over two intervals and some
        slack: a row that becomes due waits at most an interval, plus the time of the run in
        progress, for the run that deletes it."""
        allowed_since = now - timedelta(seconds=2 * self.purge_interval + OVERDUE_SLACK)
        return spent_credentials(
            now=allowed_since,
            throttle_window=timedelta(
                seconds=max(self.login_failure_window, self.address_mail_window)
            ),
            grace=timedelta(seconds=self.credential_grace),
        )


@dataclass(frozen=True)
class Sample:
    """The server at the end of a period."""

    rss_mb: float
    rows: dict[str, int]  # CREDENTIAL_TABLES and users
    overdue: int

    @property
    def credential_rows(self) -> int:
        return sum(self.rows[name] for name in CREDENTIAL_TABLES)


@dataclass(frozen=True)
class Period:
    until: float  # seconds since the start
    traffic: Interval
    sample: Sample

    @property
    def requests(self) -> int:
        return len(self.traffic.latencies_ms)

    def percentile_ms(self, fraction: float) -> float:
        ordered = sorted(self.traffic.latencies_ms)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered), math.ceil(fraction * len(ordered))) - 1]

    def cells(self) -> list[object]:
        sample = self.sample
        return [
            clock_time(self.until),
            self.requests,
            self.traffic.errors,
            self.percentile_ms(0.50),
            self.percentile_ms(0.99),
            sample.rss_mb,
            *(sample.rows[name] for name in CREDENTIAL_TABLES),
            sample.overdue,
            sample.rows["users"],
        ]


@dataclass(frozen=True)
class Verdict:
    text: str
    met: bool | None  # None: reported, no target

    def line(self) -> str:
        outcome = "reported" if self.met is None else "met" if self.met else "MISSED"
        return f"{self.text}: {outcome}"


@dataclass(frozen=True)
class SoakRun:
    periods: list[Period]
    sessions_opened: int
    failures: list[str]
    lifetimes: Lifetimes

    @property
    def requests(self) -> int:
        return sum(period.requests for period in self.periods)

    @property
    def errors(self) -> int:
        return sum(period.traffic.errors for period in self.periods)

    @property
    def most_overdue(self) -> int:
        return max(period.sample.overdue for period in self.periods)

    def verdicts(self) -> list[Verdict]:
        return [
            Verdict(
                f"errors: {self.errors} of {self.requests:,} requests (target 0)", not self.errors
            ),
            self.p99_verdict(),
            self.rss_verdict(),
            Verdict(
                f"spent credentials purged: at most {self.most_overdue} overdue rows at a sample "
                f"(target 0); {self.sessions_opened:,} sessions opened, "
                f"{self.periods[-1].sample.rows['sessions']:,} session rows at the end",
                self.most_overdue == 0,
            ),
            self.plateau_verdict(),
        ]

    def p99_verdict(self) -> Verdict:
        first = self.periods[0].percentile_ms(0.99)
        last = statistics.median(
            period.percentile_ms(0.99) for period in self.periods[-DRIFT_TAIL:]
        )
        ratio = last / first if first else math.inf
        return Verdict(
            f"p99 drift: {first:,.0f} ms in the first period, {last:,.0f} ms (median) in the "
            f"last {min(DRIFT_TAIL, len(self.periods))}: x{ratio:.2f} (target <= x{P99_TARGET:g})",
            ratio <= P99_TARGET,
        )

    def rss_verdict(self) -> Verdict:
        warm, end = self.periods[0].sample, self.periods[-1].sample
        growth = end.rss_mb / warm.rss_mb - 1
        # Per user signed up: tells memory that follows the data from memory that follows time.
        joined = max(end.rows["users"] - warm.rows["users"], 1)
        return Verdict(
            f"RSS: {warm.rss_mb:,.0f} MB after the first period (warm-up), {end.rss_mb:,.0f} MB "
            f"at the end: {growth:+.1%}, {1024 * (end.rss_mb - warm.rss_mb) / joined:,.0f} KB per "
            f"user signed up meanwhile (target < {RSS_TARGET:.0%})",
            growth < RSS_TARGET,
        )

    def plateau_verdict(self) -> Verdict:
        settled = [p for p in self.periods if p.until >= self.lifetimes.longest]
        if not settled:
            return Verdict(
                f"credential rows level: the run is shorter than a credential's longest life "
                f"({self.lifetimes.longest} s)",
                None,
            )
        first, end = settled[0], self.periods[-1]
        return Verdict(
            f"credential rows level once the longest-lived have had their time "
            f"({self.lifetimes.longest} s): {first.sample.credential_rows:,} at "
            f"{clock_time(first.until)}, {end.sample.credential_rows:,} at the end, "
            f"while users grew from {first.sample.rows['users']:,} to "
            f"{end.sample.rows['users']:,}",
            None,
        )


def clock_time(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def resident_mb(root: int) -> float:
    """The resident memory of process `root` and its children."""
    kib = 0
    for pid in process_tree(root):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:  # exited meanwhile
            continue
        kib += sum(
            int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")
        )
    return kib / 1024


async def count(session: AsyncSession, table: Table, *where: ColumnElement[bool]) -> int:
    return int(await session.scalar(select(func.count()).select_from(table).where(*where)) or 0)


async def take_sample(db: Database, server_pid: int, lifetimes: Lifetimes) -> Sample:
    async with db.read() as session:
        tables = {**CREDENTIAL_TABLES, "users": USERS}
        rows = {name: await count(session, table) for name, table in tables.items()}
        overdue = lifetimes.overdue(Clock().now())
        late = [await count(session, table, where) for table, where in overdue.values()]
    return Sample(rss_mb=resident_mb(server_pid), rows=rows, overdue=sum(late))


async def sample_periods(
    traffic: Traffic,
    *,
    database_url: str,
    server_pid: int,
    lifetimes: Lifetimes,
    progress: Callable[[Period], None],
) -> list[Sample]:
    """A sample at the end of every period of `traffic`."""
    db = Database(database_url)
    samples: list[Sample] = []
    try:
        for until, interval in zip(traffic.ends(), traffic.intervals, strict=True):
            await asyncio.sleep(max(0.0, until - traffic.elapsed()))
            samples.append(await take_sample(db, server_pid, lifetimes))
            progress(Period(until, interval, samples[-1]))
    finally:
        await db.dispose()
    return samples


async def soak(
    target: Deployment,
    *,
    duration: float,
    interval: float,
    users: int,
    workers: int = 1,
    lifetimes: Lifetimes = Lifetimes(),
    progress: Callable[[Period], None] = lambda _period: None,
) -> SoakRun:
    """Serve `target` with a real SMTP server for its mail and drive `users` virtual users
    against it for `duration` seconds, sampling every `interval` seconds."""
    smtp = SmtpServer()
    settings = {**lifetimes.settings(), "TENANTRY_SMTP_URL": smtp.start()}
    try:
        with running_server(target, workers=workers, settings=settings) as server:
            traffic = Traffic(interval=interval, duration=duration)
            _, samples = await asyncio.gather(
                drive(server.base_url, smtp.mailbox, traffic, users=users),
                sample_periods(
                    traffic,
                    database_url=target.database_url,
                    server_pid=server.pid,
                    lifetimes=lifetimes,
                    progress=progress,
                ),
            )
    finally:
        smtp.stop()
    periods = [
        Period(*period) for period in zip(traffic.ends(), traffic.intervals, samples, strict=True)
    ]
    return SoakRun(periods, traffic.sessions_opened, traffic.failures, lifetimes)


def arguments(argv: Sequence[str] | None) -> tuple[float, int, Options]:
    """--minutes and --users, which only the soak takes, and the options every benchmark
    shares (bench/options.py)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=DEFAULT_USERS)
    known, rest = parser.parse_known_args(argv)
    return known.minutes, known.users, parse(__doc__ or "", rest)


def report(backend: str, run: SoakRun, *, minutes: float, users: int, workers: int) -> Report:
    table = Report(f"Soak: {minutes:g} minutes of mixed traffic ({backend})", COLUMNS)
    for period in run.periods:
        table.add(*period.cells())
    lifetimes = ", ".join(f"{name} {value}" for name, value in lifetimes_items(run.lifetimes))
    table.notes += [
        f"`tenantry serve --workers {workers}`, {users} virtual users (bench/soak_traffic.py), "
        "mail to an aiosmtpd server in the soak process; lifetimes in seconds: " + lifetimes,
        "requests and latency by the period the request began in; RSS: all server processes; "
        "rows counted at the end of each period; overdue: rows the purge has been allowed to "
        f"delete for 2 purge intervals + {OVERDUE_SLACK} s",
        "other work shares this machine's cores (see the load average): latencies are noisy",
        *(verdict.line() for verdict in run.verdicts()),
        *(f"failure at {failure}" for failure in run.failures),
    ]
    return table


def lifetimes_items(lifetimes: Lifetimes) -> list[tuple[str, int]]:
    return [(item.name, getattr(lifetimes, item.name)) for item in fields(lifetimes)]


def show_progress(backend: str) -> Callable[[Period], None]:
    def show(period: Period) -> None:
        cells = ", ".join(
            f"{column} {cell:,.0f}" if isinstance(cell, float) else f"{column} {cell}"
            for column, cell in zip(COLUMNS, period.cells(), strict=True)
        )
        print(f"soak {backend}: {cells}", file=sys.stderr, flush=True)

    return show


def main(argv: Sequence[str] | None = None) -> int:
    minutes, users, options = arguments(argv)
    missed = False
    for backend in options.backends:
        began = time.monotonic()
        try:
            with deployment(backend, tag="soak", postgres_url=options.postgres_url) as target:
                run = asyncio.run(
                    soak(
                        target,
                        duration=minutes * MINUTE,
                        interval=MINUTE,
                        users=users,
                        workers=options.workers,
                        progress=show_progress(backend),
                    )
                )
        except BackendUnavailable as error:
            print(f"soak {backend} skipped: {error}\n", flush=True)
            continue
        table = report(backend, run, minutes=minutes, users=users, workers=options.workers)
        table.notes.append(f"took {time.monotonic() - began:.0f} s")
        table.print()
        missed |= any(verdict.met is False for verdict in run.verdicts())
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
