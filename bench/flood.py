"""A legitimate login under a flood of anonymous sign-ups (issue 18 item 4): its p99 with 200
throttled sign-ups in flight stays under 3x its idle p99.

One user signs in over and over, one request at a time (httpx), first on an idle server, then
while wrk keeps 200 connections busy signing up one address, whose mail allowance is spent after
the first five (429 before any Argon2 work), then while wrk signs up a new address on every
request (each one hashes; the hashing lane holds half the cores and queues the rest, so logins
keep theirs). All the load is on this machine, wrk and the login client included."""

from __future__ import annotations

import statistics
import sys
import threading
import time
from collections.abc import Sequence

import httpx

from bench import summary, wrk
from bench.options import Options, parse
from bench.report import Table, verdict
from bench.server import BENCH_EMAIL, BENCH_PASSWORD, Deployment, Server, per_backend
from bench.server import running_server as serve
from bench.signup import fresh_signups

TARGET = 3.0
FLOOD_CONNECTIONS = 200
FLOOD_SECONDS = 8.0
SETTLE_SECONDS = 1.5  # the flood reaches all its connections before logins are timed
FLOODED = "flooded@flood.example"
FLOOD_PASSWORD = "a flood of sign-ups 9"
COLUMNS = (
    "backend",
    "flood",
    "logins",
    "login p50 ms",
    "login p99 ms",
    "p99 / idle p99",
    "flood req/s",
    "flood non-2xx",
    "vs target",
)


def login_latencies(base_url: str, seconds: float) -> list[float]:
    """Milliseconds of each login, one after another for `seconds`."""
    latencies: list[float] = []
    body = {"email": BENCH_EMAIL, "password": BENCH_PASSWORD}
    with httpx.Client(base_url=base_url, timeout=30) as client:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            response = client.post("/v1/auth/login", json=body)
            latencies.append((time.perf_counter() - started) * 1000)
            client.cookies.clear()  # one device cookie per login would be a different test
            if response.status_code != 200:
                raise RuntimeError(f"login: {response.status_code} {response.text}")
    return latencies


def p99(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=100)[98]


def under_flood(server: Server, script_text: str) -> tuple[list[float], wrk.WrkResult]:
    """Logins timed while wrk floods `/v1/auth/signup` with `script_text`."""
    outcome: list[wrk.WrkResult] = []
    flood = threading.Thread(
        target=lambda: outcome.append(
            wrk.run(
                server.base_url + "/v1/auth/signup",
                script_text=script_text,
                workdir=server.workdir,
                duration=FLOOD_SECONDS,
                connections=FLOOD_CONNECTIONS,
            )
        )
    )
    flood.start()
    time.sleep(SETTLE_SECONDS)
    latencies = login_latencies(server.base_url, FLOOD_SECONDS - 2 * SETTLE_SECONDS)
    flood.join()
    return latencies, outcome[0]


def measure(options: Options, table: Table, backend: str, target: Deployment) -> None:
    target.create_user()  # migrates
    throttled = wrk.static_request(
        "POST",
        f'{{"email":"{FLOODED}","password":"{FLOOD_PASSWORD}"}}',
        {"Content-Type": "application/json"},
    )
    with serve(target, workers=options.workers) as server:
        login_latencies(server.base_url, 1.0)  # warm up
        idle = login_latencies(server.base_url, FLOOD_SECONDS - 2 * SETTLE_SECONDS)
        idle_p99 = p99(idle)
        table.add(backend, "none", len(idle), statistics.median(idle), idle_p99, 1.0, "", "", "")
        floods = {
            "200 throttled sign-ups (one address)": throttled,
            "200 hashing sign-ups (new addresses)": fresh_signups("flood"),
        }
        for name, script in floods.items():
            latencies, flood = under_flood(server, script)
            ratio = p99(latencies) / idle_p99
            targeted = name.startswith("200 throttled")
            if targeted:
                summary.record(
                    "flood",
                    f"login p99 under 200 throttled sign-ups / idle ({backend})",
                    f"< {TARGET:g}x",
                    f"{ratio:.2f}x ({p99(latencies):.0f} ms against {idle_p99:.0f} ms)",
                    summary.at_most(ratio, TARGET),
                )
            table.add(
                backend,
                name,
                len(latencies),
                statistics.median(latencies),
                p99(latencies),
                f"{ratio:.2f}",
                flood.rate,
                flood.non_2xx,
                f"< {TARGET:g}x: {verdict(TARGET, ratio)}" if targeted else "reported",
            )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(__doc__ or "", argv)
    table = Table("A login's latency under a flood of anonymous sign-ups", COLUMNS)
    table.notes += [
        "logins: one client signing in one request at a time for "
        f"{FLOOD_SECONDS - 2 * SETTLE_SECONDS:g} s, Argon2id at the shipped cost",
        f"flood: {wrk.describe('/v1/auth/signup', duration=FLOOD_SECONDS, connections=200)}; "
        f"the throttled flood signs up {FLOODED} (429 too_many_emails after the address's "
        "allowance, before any hashing); the hashing flood a new address per request "
        "(its 503 server_busy answers count as non-2xx)",
    ]
    return per_backend(options, tag="flood", table=table, measure=measure)


if __name__ == "__main__":
    sys.exit(main())
