"""Password login throughput as a ratio to the Argon2 bound (target >= 0.8).

The bound is what the cores could do if they did nothing but verify passwords:
cores / (CPU seconds per Argon2id verify at the configured cost), the CPU time measured here,
in process, with argon2-cffi, just before the HTTP run. Every login uses the right password."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from argon2 import PasswordHasher, Type

from bench import summary, wrk
from bench.fixtures import add_confirmed_users, bench_emails
from bench.load import CPU_NOTE, drive, warm_up, wrk_note
from bench.options import Options, parse
from bench.report import Table, verdict
from bench.server import BENCH_EMAIL, BENCH_PASSWORD, Deployment, login, per_backend, running_server
from tenantry.settings import Settings

TARGET = 0.8
# OWASP's password storage cheat sheet, first Argon2id option: m=19 MiB, t=2, p=1.
OWASP_MEMORY_KIB = 19 * 1024
OWASP_TIME_COST = 2
OWASP_PARALLELISM = 1
# Logins rotate over many accounts, as real traffic does: one account signing in on all
# connections at once would meet the lockout, which admits only a few attempts in flight.
USERS = 64
MIN_DURATION = 5.0
SAMPLE_SECONDS = 1.5
COLUMNS = (
    "backend",
    "Argon2 CPU ms/verify",
    "bound req/s",
    "Argon2 now, verifies/s",
    "login req/s",
    "p50 ms",
    "p99 ms",
    "errors",
    "server CPU ms/login",
    "ratio to bound",
    "ratio to Argon2 now",
)


@dataclass(frozen=True)
class Argon2Cost:
    memory_kib: int
    time_cost: int
    parallelism: int

    @classmethod
    def configured(cls) -> Argon2Cost:
        fields = Settings.model_fields
        return cls(
            memory_kib=int(fields["argon2_memory_kib"].default),
            time_cost=int(fields["argon2_time_cost"].default),
            parallelism=int(fields["argon2_parallelism"].default),
        )

    def record_owasp(self) -> None:
        """The configured cost against OWASP's minimum for Argon2id, in the summary."""
        owasp = (OWASP_MEMORY_KIB, OWASP_TIME_COST, OWASP_PARALLELISM)
        met = (self.memory_kib, self.time_cost) >= owasp[:2] and self.parallelism >= owasp[2]
        summary.record(
            "login",
            "Argon2id parameters at or above OWASP's minimum",
            f"m >= {OWASP_MEMORY_KIB // 1024} MiB, t >= {OWASP_TIME_COST}, "
            f"p >= {OWASP_PARALLELISM}",
            f"m = {self.memory_kib / 1024:g} MiB, t = {self.time_cost}, p = {self.parallelism}",
            summary.MET if met else summary.MISSED,
        )

    def verifier(self) -> Callable[[], None]:
        hasher = PasswordHasher(
            time_cost=self.time_cost,
            memory_cost=self.memory_kib,
            parallelism=self.parallelism,
            type=Type.ID,
        )
        encoded = hasher.hash(BENCH_PASSWORD)
        return lambda: _verified(hasher.verify(encoded, BENCH_PASSWORD))

    def cpu_seconds_per_verify(self) -> float:
        """Mean CPU time of one verify, over as many verifies as fit in a short sample."""
        verify = self.verifier()
        verify()  # warm the allocator
        count, started = 0, time.process_time()
        while count < 3 or time.process_time() - started < SAMPLE_SECONDS:
            verify()
            count += 1
        return (time.process_time() - started) / count

    def parallel_verifies_per_second(self, threads: int) -> float:
        """Verifies per wall-clock second with `threads` threads verifying at once: what the
        machine delivers right now, with whatever else it is running."""
        verify = self.verifier()
        deadline = time.perf_counter() + SAMPLE_SECONDS
        counts = [0] * threads

        def work(slot: int) -> None:
            while time.perf_counter() < deadline:
                verify()
                counts[slot] += 1

        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(work, range(threads)))
        return sum(counts) / (time.perf_counter() - started)


def _verified(matched: bool) -> None:
    assert matched


def measure(options: Options, table: Table, backend: str, target: Deployment) -> None:
    target.create_user()
    emails = bench_emails("login", USERS)
    asyncio.run(add_confirmed_users(target.database_url, emails, like=BENCH_EMAIL))
    bodies = [json.dumps({"email": email, "password": BENCH_PASSWORD}) for email in emails]
    script = wrk.rotating_bodies("POST", bodies, {"Content-Type": "application/json"})
    with running_server(target, workers=options.workers) as server:
        login(server.base_url)
        warm_up(server, "/v1/auth/login", script, options)
        cost = Argon2Cost.configured()
        per_verify = cost.cpu_seconds_per_verify()
        parallel = cost.parallel_verifies_per_second(os.cpu_count() or 1)
        run = drive(
            server, "/v1/auth/login", script, options, duration=max(options.duration, MIN_DURATION)
        )
    bound = (os.cpu_count() or 1) / per_verify
    ratio = run.rate / bound
    summary.record(
        "login",
        f"login / Argon2 bound ({backend})",
        f">= {TARGET}",
        f"{ratio:.2f} ({run.rate:,.0f}/s of {bound:,.0f}/s)",
        summary.at_least(ratio, TARGET),
    )
    table.add(
        backend,
        per_verify * 1000,
        bound,
        parallel,
        run.rate,
        run.result.p50_ms,
        run.result.p99_ms,
        run.result.errors(),
        run.server_cpu_ms,
        f"{ratio:.2f} (target >= {TARGET}: {verdict(ratio, TARGET)})",
        run.rate / parallel,
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(__doc__ or "", argv)
    cost = Argon2Cost.configured()
    cost.record_owasp()
    table = Table("Password login vs the Argon2 bound (wrk)", COLUMNS)
    table.notes += [
        CPU_NOTE,
        wrk_note("/v1/auth/login", options) + ", POST with a JSON body from the Lua script",
        f"Argon2id memory {cost.memory_kib} KiB, t={cost.time_cost}, p={cost.parallelism}; "
        f"bound = {os.cpu_count()} cores / CPU seconds per verify (one thread, in process); "
        f"'Argon2 now' = verifies per second with {os.cpu_count()} threads in process just "
        "before the run, i.e. what the cores deliver while other work shares the machine",
        f"logins rotate over {USERS} confirmed accounts with the same password",
        "server CPU ms/login above the Argon2 CPU time is the cost of everything else "
        "(HTTP, JSON, two write transactions, token signing)",
    ]
    return per_backend(options, tag="login", table=table, measure=measure)


if __name__ == "__main__":
    sys.exit(main())
