"""Scaling from one to two worker processes: the same deployment served by `tenantry serve
--workers 1` and by `--workers 2` side by side (cross-process invalidation through the shared
access epoch), loaded one at a time in alternating rounds (1w, 2w, 1w, 2w) with the same wrk
settings: authorized `GET /v1/tenant`, password login (Argon2-bound) and refresh-token
rotation. Reports the median req/s of each and the ratio 2 workers / 1 worker. Runs on
PostgreSQL unless --backend is given.

wrk runs on the same machine: on 2 cores its own thread takes a share of the CPU the second
worker would need, so the ratio is a lower bound of what a second core gives a worker."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace

from bench import summary, wrk
from bench.fixtures import add_confirmed_users, bench_emails, mint_refresh_tokens
from bench.http_tenant import tenant_headers
from bench.load import CPU_NOTE, Measurement, drive, warm_up, wrk_note
from bench.login import USERS as LOGIN_USERS
from bench.options import Options, default_to, parse
from bench.refresh import TOKENS_PER_CONNECTION, chain_script, write_tokens
from bench.report import Table
from bench.server import (
    BENCH_EMAIL,
    BENCH_PASSWORD,
    Deployment,
    Server,
    per_backend,
    running_server,
)

WORKERS = (1, 2)
ROUNDS = 2  # each round: 1 worker, then 2 workers
TENANT = "/v1/tenant"
LOGIN = "/v1/auth/login"
REFRESH = "/v1/auth/refresh"
ROUTES = (TENANT, LOGIN, REFRESH)
# Argon2-bound logins answer a few times a second per connection: shorter legs quantize.
MIN_LOGIN_SECONDS = 3.0
COLUMNS = (
    "backend",
    "route",
    "1 worker req/s (median)",
    "2 workers req/s (median)",
    "req/s by round, 1w / 2w",
    "p99 ms 1w / 2w",
    "server CPU ms/req 1w / 2w",
    "errors",
    "2w / 1w",
)


def leg_seconds(route: str, options: Options) -> float:
    return max(MIN_LOGIN_SECONDS, options.duration) if route == LOGIN else options.duration


def measure(options: Options, table: Table, backend: str, target: Deployment) -> None:
    user_id = target.create_user()
    emails = bench_emails("workers", LOGIN_USERS)
    asyncio.run(add_confirmed_users(target.database_url, emails, like=BENCH_EMAIL))
    logins = [json.dumps({"email": email, "password": BENCH_PASSWORD}) for email in emails]
    login_script = wrk.rotating_bodies("POST", logins, {"Content-Type": "application/json"})
    # Refresh: fresh tokens for every warm-up and every leg (each is presented once).
    per_leg = options.connections * TOKENS_PER_CONNECTION
    legs = len(WORKERS) * (ROUNDS + 1)
    tokens = asyncio.run(mint_refresh_tokens(target.database_url, user_id, legs * per_leg))
    token_files = iter(
        write_tokens(target.data_dir, f"tokens-{index}.txt", tokens[index::legs])
        for index in range(legs)
    )
    with (
        running_server(target, workers=WORKERS[0]) as one,
        running_server(target, workers=WORKERS[1]) as two,
    ):
        servers = (one, two)
        tenant = {
            server.pid: wrk.static_request(headers=tenant_headers(server.base_url))
            for server in servers
        }

        def script(server: Server, route: str) -> str:
            if route == TENANT:
                return tenant[server.pid]
            if route == LOGIN:
                return login_script
            return chain_script(next(token_files))

        runs: dict[str, list[list[Measurement]]] = {route: [[], []] for route in ROUTES}
        for route in ROUTES:
            for server in servers:
                warm_up(server, route, script(server, route), options)
            for _ in range(ROUNDS):
                for index, server in enumerate(servers):
                    seconds = leg_seconds(route, options)
                    run = drive(server, route, script(server, route), options, duration=seconds)
                    runs[route][index].append(run)
    for route in ROUTES:
        add_row(table, backend, route, runs[route])


def add_row(table: Table, backend: str, route: str, runs: list[list[Measurement]]) -> None:
    single, double = runs

    def median(values: Callable[[Measurement], float], legs: list[Measurement]) -> float:
        return statistics.median(values(leg) for leg in legs)

    rate = [median(lambda leg: leg.rate, legs) for legs in runs]
    ratio = rate[1] / rate[0] if rate[0] else 0.0
    p99 = [median(lambda leg: leg.result.p99_ms, legs) for legs in runs]
    cpu = [median(lambda leg: leg.server_cpu_ms, legs) for legs in runs]
    non_2xx = sum(leg.result.non_2xx for legs in runs for leg in legs)
    socket = sum(leg.result.socket_errors for legs in runs for leg in legs)
    by_round = ", ".join(
        f"{first.rate:,.0f} / {second.rate:,.0f}"
        for first, second in zip(single, double, strict=True)
    )
    table.add(
        backend,
        route,
        rate[0],
        rate[1],
        by_round,
        f"{p99[0]:.1f} / {p99[1]:.1f}",
        f"{cpu[0]:.2f} / {cpu[1]:.2f}",
        "none" if non_2xx == socket == 0 else f"{non_2xx} non-2xx, {socket} socket",
        f"{ratio:.2f}",
    )
    summary.record(
        "workers",
        f"`{route}` 2 workers / 1 worker ({backend})",
        "report",
        f"{ratio:.2f} ({rate[0]:,.0f} -> {rate[1]:,.0f}/s)",
        summary.REPORTED,
    )


def main(argv: Sequence[str] | None = None) -> int:
    # PostgreSQL, the database of multi-worker deployments, unless --backend says otherwise:
    # both would cost `make bench` another minute.
    options = default_to(parse(__doc__ or "", argv), "postgresql")
    table = Table("Scaling from 1 to 2 workers (wrk)", COLUMNS)
    login_options = replace(options, duration=leg_seconds(LOGIN, options), workers=2)
    table.notes += [
        CPU_NOTE,
        wrk_note("/ROUTE", replace(options, workers=2))
        + f" and `--workers 1`; logins `{wrk_note(LOGIN, login_options).split('`')[1]}`",
        "both servers share one database and data directory and run side by side, loaded one "
        f"at a time: per route a 1 s warm-up of each, then {ROUNDS} rounds of 1 worker, "
        "2 workers; medians over rounds",
        f"`{TENANT}`: Bearer + X-Tenant-ID of the bench user; `{LOGIN}`: {LOGIN_USERS} "
        f"accounts in turn; `{REFRESH}`: {options.connections * TOKENS_PER_CONNECTION} fresh "
        "sessions per leg, each token presented once (chained as in bench.refresh)",
        f"this machine has {os.cpu_count()} cores and wrk's thread runs on them too: the second "
        "worker competes with wrk for the second core, so 2w / 1w is a lower bound; login "
        "hashes on a thread pool, so one worker already runs Argon2 on both cores",
    ]
    return per_backend(options, tag="workers", table=table, measure=measure)


if __name__ == "__main__":
    sys.exit(main())
