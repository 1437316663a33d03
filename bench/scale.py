"""A million tenants: the hot paths at 1k and at 1M seeded users (target: within 10%).

For each backend, two fresh databases are loaded with `tenantry dev seed` (small: 1k users,
100 organizations, 3k memberships; large: 1M users, 100k organizations, 3M memberships on
PostgreSQL, a tenth of that on SQLite to keep `make bench` within its time budget, each user
with a personal tenant and its owner membership), then served by `tenantry serve` and
measured with wrk: the tenant-checked `GET /v1/tenant` rotating over the tenants of randomly
chosen seeded users, password logins of seeded users (Argon2-bound) and sign-ups with fresh
addresses (also Argon2-bound). Reports each rate at both sizes and their ratio, the seed time,
the database size and the server's resident memory after the runs."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import psycopg

from bench import summary, wrk
from bench.databases import BackendUnavailable
from bench.load import CPU_NOTE, Measurement, drive, warm_up, wrk_note
from bench.options import Options, parse
from bench.report import Table, verdict
from bench.server import (
    Deployment,
    Server,
    deployment,
    process_tree,
    running_server,
    tenantry_command,
)
from bench.signup import fresh_signups
from tenantry.seeding import SEED_PASSWORD, seed_email

# The large size can be changed for a quick run (the table says what was measured).
LARGE_ENV = "TENANTRY_BENCH_SCALE_USERS"
# Seeding SQLite with 1M users takes about a minute of the budget of `make bench` (15 min).
LARGE_USERS = {"postgresql": 1_000_000, "sqlite": 100_000}
SMALL_USERS = 1_000
TARGET = 0.9
# Seeded users logged in before the load; the tenant route rotates over all their tenants.
SIGNED_IN = 100
LOGIN_ROTATION = 64
SEED_TIMEOUT = 600
# Argon2-bound routes answer about once a second per connection: shorter legs quantize.
MIN_LEG_SECONDS = 3.0
TENANT = "/v1/tenant"
LOGIN = "/v1/auth/login"
SIGNUP = "/v1/auth/signup"
ROUTES = (TENANT, LOGIN, SIGNUP)
COLUMNS = (
    "backend",
    "route",
    "small req/s",
    "large req/s",
    "ratio large/small",
    "p99 ms small / large",
    "server CPU ms/req small / large",
    "errors small / large",
)
SIZE_COLUMNS = (
    "backend",
    "users / orgs / memberships",
    "seed s",
    "database MB",
    "server RSS MB after the runs",
)


@dataclass(frozen=True)
class Scale:
    users: int
    organizations: int
    memberships: int

    @classmethod
    def of(cls, users: int) -> Scale:
        return cls(users, max(1, users // 10), 3 * users)

    def label(self) -> str:
        return f"{self.users:,} / {self.organizations:,} / {self.memberships:,}"


@dataclass(frozen=True)
class Outcome:
    runs: dict[str, Measurement]
    seed_seconds: float
    database_bytes: int
    rss_bytes: int


def seed(target: Deployment, scale: Scale) -> float:
    """`tenantry dev seed` (which migrates first); its wall-clock seconds."""
    started = time.perf_counter()
    command = [tenantry_command(), "dev", "seed", "--users", str(scale.users)]
    command += ["--organizations", str(scale.organizations)]
    command += ["--memberships", str(scale.memberships)]
    done = subprocess.run(
        command,
        env=target.environment(),
        cwd=target.data_dir,
        capture_output=True,
        text=True,
        timeout=SEED_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"tenantry dev seed failed:\n{done.stderr}")
    return time.perf_counter() - started


async def sign_in(base_url: str, indexes: Sequence[int]) -> list[tuple[str, str]]:
    """(access token, tenant id) for every tenant of each seeded user in `indexes`."""
    limit = asyncio.Semaphore(os.cpu_count() or 1)

    async def pairs(client: httpx.AsyncClient, index: int) -> list[tuple[str, str]]:
        async with limit:
            body = {"email": seed_email(index), "password": SEED_PASSWORD}
            response = await client.post(LOGIN, json=body)
        response.raise_for_status()
        token = response.json()["access_token"]
        listed = await client.get("/v1/tenants", headers={"Authorization": f"Bearer {token}"})
        listed.raise_for_status()
        return [(token, item["id"]) for item in listed.json()["items"]]

    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        found = await asyncio.gather(*(pairs(client, index) for index in indexes))
    return [pair for user_pairs in found for pair in user_pairs]


def rotating_tenants(pairs: Sequence[tuple[str, str]]) -> str:
    """A script sending `GET` with each (token, tenant) pair in turn."""
    entries = ",\n  ".join(
        f"{{{wrk.lua_string('Bearer ' + token)}, {wrk.lua_string(tenant)}}}"
        for token, tenant in pairs
    )
    return f"""
local pairs_ = {{
  {entries}
}}
local next_pair = 0
function request()
  next_pair = next_pair % #pairs_ + 1
  local pair = pairs_[next_pair]
  return wrk.format("GET", nil, {{["Authorization"] = pair[1], ["X-Tenant-ID"] = pair[2]}})
end
"""


def database_bytes(target: Deployment) -> int:
    url = target.database_url
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        files = [path, path.with_name(path.name + "-wal")]
        return sum(file.stat().st_size for file in files if file.exists())
    with psycopg.connect(url) as connection:
        row = connection.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else 0


def resident_bytes(server: Server) -> int:
    """VmRSS summed over the server process and its workers."""
    total = 0
    for pid in process_tree(server.pid):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


def combined(route: str, legs: Sequence[Measurement]) -> Measurement:
    """One measurement from several legs of the same route: rates and CPU over all requests,
    the worst p99."""
    requests = sum(leg.result.requests for leg in legs)
    result = wrk.WrkResult(
        requests=requests,
        seconds=sum(leg.result.seconds for leg in legs),
        p50_ms=max(leg.result.p50_ms for leg in legs),
        p99_ms=max(leg.result.p99_ms for leg in legs),
        non_2xx=sum(leg.result.non_2xx for leg in legs),
        socket_errors=sum(leg.result.socket_errors for leg in legs),
    )
    cpu = sum(leg.server_cpu_ms * leg.result.requests for leg in legs) / max(requests, 1)
    return Measurement(route, result, cpu)


def prepare(server: Server, scale: Scale, tag: str) -> dict[str, str]:
    """The load script of every route for one server."""
    chosen = random.Random(scale.users).sample(range(scale.users), SIGNED_IN)
    pairs = asyncio.run(sign_in(server.base_url, chosen))
    logins = [
        json.dumps({"email": seed_email(index), "password": SEED_PASSWORD})
        for index in chosen[:LOGIN_ROTATION]
    ]
    return {
        TENANT: rotating_tenants(pairs),
        LOGIN: wrk.rotating_bodies("POST", logins, {"Content-Type": "application/json"}),
        SIGNUP: fresh_signups(f"{tag}-{os.getpid()}"),
    }


def leg_seconds(options: Options) -> float:
    return max(MIN_LEG_SECONDS, options.duration)


def measure_backend(options: Options, backend: str, scales: Sequence[Scale]) -> list[Outcome]:
    """Both sizes served side by side, their runs interleaved small, large, large, small per
    route, so that drifting background load weighs on both alike."""
    tags = ("scale_small", "scale_large")
    with ExitStack() as stack:
        targets = [
            stack.enter_context(deployment(backend, tag=tag, postgres_url=options.postgres_url))
            for tag in tags
        ]
        seconds = [seed(target, scale) for target, scale in zip(targets, scales, strict=True)]
        servers = [
            stack.enter_context(running_server(target, workers=options.workers))
            for target in targets
        ]
        scripts = [
            prepare(server, scale, tag)
            for server, scale, tag in zip(servers, scales, tags, strict=True)
        ]
        leg = leg_seconds(options)
        legs: list[dict[str, list[Measurement]]] = [{route: [] for route in ROUTES} for _ in tags]
        for route in ROUTES:
            for index in (0, 1):
                warm_up(servers[index], route, scripts[index][route], options)
            for index in (0, 1, 1, 0):
                run = drive(servers[index], route, scripts[index][route], options, duration=leg)
                legs[index][route].append(run)
        rss = [resident_bytes(server) for server in servers]
        sizes = [database_bytes(target) for target in targets]
    return [
        Outcome(
            runs={route: combined(route, legs[index][route]) for route in ROUTES},
            seed_seconds=seconds[index],
            database_bytes=sizes[index],
            rss_bytes=rss[index],
        )
        for index in (0, 1)
    ]


def large_scale(backend: str) -> Scale:
    return Scale.of(int(os.environ.get(LARGE_ENV, LARGE_USERS[backend])))


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(__doc__ or "", argv)
    small = Scale.of(SMALL_USERS)
    larges = {backend: large_scale(backend) for backend in options.backends}
    shown = ", ".join(f"{scale.users:,} ({backend})" for backend, scale in larges.items())
    table = Table(f"Hot paths at {small.users:,} vs {shown} seeded users (wrk)", COLUMNS)
    sizes = Table("Seeded databases: load time, size and server memory", SIZE_COLUMNS)
    table.notes += [
        CPU_NOTE,
        wrk_note("/ROUTE", replace(options, duration=leg_seconds(options))),
        f"small = {small.label()}, large = "
        + "; ".join(f"{scale.label()} ({backend})" for backend, scale in larges.items())
        + " users / organizations / memberships, loaded by `tenantry dev seed` into a fresh "
        f"database each (${LARGE_ENV} sets the large number of users)",
        f"`{TENANT}`: Bearer + X-Tenant-ID rotating over every tenant (personal and "
        f"organizations) of {SIGNED_IN} randomly chosen seeded users, logged in first; after "
        "the warm-up their access decisions and tenant views come from the per-process caches",
        f"`{LOGIN}`: {LOGIN_ROTATION} of those users in turn; `{SIGNUP}`: a new address on "
        "every request; both are bound by Argon2",
        "both sizes are served side by side and each route runs small, large, large, small "
        f"(each leg --duration long, at least {MIN_LEG_SECONDS:.0f} s, after a warm-up of "
        "each): drifting background load weighs on both sizes alike; p99 is the worse leg's",
        f"ratio = large req/s / small req/s (target >= {TARGET})",
    ]
    sizes.notes += [
        "seed s: wall-clock time of `tenantry dev seed` (migrations included)",
        "database MB: pg_database_size after the runs, or the SQLite file (+ WAL)",
        "server RSS: VmRSS of the `tenantry serve` process tree, from /proc, after the runs",
    ]
    for backend, large in larges.items():
        try:
            outcomes = measure_backend(options, backend, (small, large))
        except BackendUnavailable as error:
            table.notes.append(f"{backend} skipped: {error}")
            continue
        for route in ROUTES:
            first, second = (outcome.runs[route] for outcome in outcomes)
            ratio = second.rate / first.rate if first.rate else 0.0
            summary.record(
                "scale",
                f"`{route}` at {large.users:,} / at {small.users:,} users ({backend})",
                f">= {TARGET}",
                f"{ratio:.2f}",
                summary.at_least(ratio, TARGET),
            )
            table.add(
                backend,
                route,
                first.rate,
                second.rate,
                f"{ratio:.2f} (target >= {TARGET}: {verdict(ratio, TARGET)})",
                f"{first.result.p99_ms:.1f} / {second.result.p99_ms:.1f}",
                f"{first.server_cpu_ms:.2f} / {second.server_cpu_ms:.2f}",
                f"{first.result.errors()} / {second.result.errors()}",
            )
        for scale, outcome in zip((small, large), outcomes, strict=True):
            sizes.add(
                backend,
                scale.label(),
                outcome.seed_seconds,
                outcome.database_bytes / 2**20,
                outcome.rss_bytes / 2**20,
            )
    table.print()
    sizes.print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
