"""Sign-up with password hashing over HTTP: `POST /v1/auth/signup` with a new address on every
request (target >= 80/s), beside the Argon2 bound measured in the same run.

Each sign-up checks the password policy, hashes the password with Argon2id at the configured
cost, inserts the unconfirmed user with its confirmation code and queues the confirmation mail
(written to the server's log, as no SMTP server is configured), and answers 202. After the run
the database must hold one new user with a password hash per 202 (plus those in flight when
wrk stopped)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import replace

import httpx
from sqlalchemy import func, select

from bench import summary
from bench.load import CPU_NOTE, drive, warm_up, wrk_note
from bench.login import Argon2Cost
from bench.options import Options, parse
from bench.report import Table, verdict
from bench.server import Deployment, per_backend, running_server
from tenantry.storage.database import Database
from tenantry.storage.models import User

TARGET = 80.0
ROUTE = "/v1/auth/signup"
DOMAIN = "signup.example"  # email-validator refuses the special-use .test domain
PASSWORD = "fresh sign-up password 7"
# Argon2-bound: each connection completes only a few requests a second.
MIN_DURATION = 5.0
COLUMNS = (
    "backend",
    "Argon2 CPU ms/hash",
    "bound req/s",
    "Argon2 now, computations/s",
    "sign-up req/s",
    "p50 ms",
    "p99 ms",
    "errors",
    "server CPU ms/sign-up",
    "users created",
    "ratio to bound",
    "ratio to Argon2 now",
    "sign-ups vs target",
)


def fresh_signups(tag: str) -> str:
    """A script signing up a new address (`<tag>-<n>@signup.example`) on every request."""
    return f"""
local counter = 0
local headers = {{["Content-Type"] = "application/json"}}
function request()
  counter = counter + 1
  local body = '{{"email":"{tag}-' .. counter .. '@{DOMAIN}",'
    .. '"password":"{PASSWORD}"}}'
  return wrk.format("POST", nil, headers, body)
end
"""


def sign_up_once(base_url: str, email: str) -> None:
    """A sanity request before the load: the body must be accepted (202)."""
    body = {"email": email, "password": PASSWORD}
    response = httpx.post(f"{base_url}{ROUTE}", json=body, timeout=30)
    if response.status_code != 202:
        raise RuntimeError(f"POST {ROUTE}: {response.status_code} {response.text}")


async def hashed_users(url: str, tag: str) -> int:
    """Unconfirmed users with a password hash whose address starts with `tag`."""
    db = Database(url)
    try:
        async with db.read() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(User)
                .where(
                    User.email.like(f"{tag}-%@{DOMAIN}"),
                    User.password_hash.is_not(None),
                    User.email_verified.is_(False),
                )
            )
        return int(count or 0)
    finally:
        await db.dispose()


def measure(options: Options, table: Table, backend: str, target: Deployment) -> None:
    target.create_user()  # migrates
    tag = f"signup{os.getpid()}"
    with running_server(target, workers=options.workers) as server:
        sign_up_once(server.base_url, f"{tag}-check@{DOMAIN}")
        warm_up(server, ROUTE, fresh_signups(f"{tag}w"), options)
        cost = Argon2Cost.configured()
        per_hash = cost.cpu_seconds_per_verify()  # hashing and verifying cost the same
        parallel = cost.parallel_verifies_per_second(os.cpu_count() or 1)
        run = drive(
            server,
            ROUTE,
            fresh_signups(f"{tag}r"),
            options,
            duration=max(options.duration, MIN_DURATION),
        )
    created = asyncio.run(hashed_users(target.database_url, f"{tag}r"))
    # Requests still in flight when wrk stops complete on the server without being counted.
    answered = run.result.requests - run.result.non_2xx
    if not answered <= created <= answered + options.connections:
        raise RuntimeError(
            f"{answered} sign-ups answered 2xx but {created} users with a password hash "
            "were created"
        )
    bound = (os.cpu_count() or 1) / per_hash
    summary.record(
        "signup",
        f"sign-ups/s with hashing ({backend})",
        f">= {TARGET:.0f}/s",
        f"{run.rate:,.0f}/s ({run.rate / bound:.2f} of the Argon2 bound)",
        summary.at_least(run.rate, TARGET),
    )
    table.add(
        backend,
        per_hash * 1000,
        bound,
        parallel,
        run.rate,
        run.result.p50_ms,
        run.result.p99_ms,
        run.result.errors(),
        run.server_cpu_ms,
        created,
        f"{run.rate / bound:.2f}",
        f"{run.rate / parallel:.2f}",
        f"{run.rate:,.0f}/s (target >= {TARGET:.0f}/s: {verdict(run.rate, TARGET)})",
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(__doc__ or "", argv)
    cost = Argon2Cost.configured()
    duration = max(options.duration, MIN_DURATION)
    table = Table("Sign-up with password hashing vs the Argon2 bound (wrk)", COLUMNS)
    table.notes += [
        CPU_NOTE,
        wrk_note(ROUTE, replace(options, duration=duration))
        + ", POST bodies from a Lua script with a new address per request",
        f"body: `{json.dumps({'email': '<tag>-<n>@' + DOMAIN, 'password': PASSWORD})}`; "
        "every 202 hashed the password (checked: one new unconfirmed user with a password "
        "hash per 2xx, plus at most one per connection in flight when wrk stopped); the "
        "confirmation mails go to the server log (no SMTP configured)",
        f"Argon2id memory {cost.memory_kib} KiB, t={cost.time_cost}, p={cost.parallelism}; "
        f"bound = {os.cpu_count()} cores / CPU seconds per Argon2 computation (one thread, "
        "in process, measured just before the run); 'Argon2 now' = Argon2 computations per "
        f"second with {os.cpu_count()} threads in process just before the run, i.e. what the "
        "cores deliver while other work shares the machine",
    ]
    return per_backend(options, tag="signup", table=table, measure=measure)


if __name__ == "__main__":
    sys.exit(main())
