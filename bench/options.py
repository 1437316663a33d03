"""Command-line options every benchmark shares."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy.engine import make_url

BACKENDS = ("sqlite", "postgresql")
POSTGRES_ENV = "TENANTRY_BENCH_POSTGRES_URL"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
# Benchmarks put load only on this machine.
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Options:
    backends: tuple[str, ...]
    # False when --backend was not given: a benchmark may then run on fewer (see `default_to`).
    backends_chosen: bool
    postgres_url: str
    duration: float
    connections: int
    concurrency: int
    workers: int


def default_to(options: Options, *backends: str) -> Options:
    """`options` on `backends` unless --backend chose: for a benchmark whose target concerns
    one database, or that `make bench` cannot afford on both within its time budget."""
    return options if options.backends_chosen else replace(options, backends=backends)


def parse(description: str, argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--backend",
        action="append",
        choices=BACKENDS,
        help="database to run on (repeatable; default: both)",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get(POSTGRES_ENV, DEFAULT_POSTGRES),
        help=(
            "a PostgreSQL URL whose server hosts the throwaway bench_* databases "
            f"(default ${POSTGRES_ENV} or {DEFAULT_POSTGRES})"
        ),
    )
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument(
        "--concurrency", type=int, default=16, help="asyncio tasks for in-process benchmarks"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="`tenantry serve --workers` for HTTP benchmarks"
    )
    args = parser.parse_args(argv)
    host = make_url(args.postgres).host
    if host is not None and host not in LOOPBACK:
        parser.error(f"--postgres must point at this machine ({', '.join(LOOPBACK)}), not {host}")
    return Options(
        backends=tuple(args.backend or BACKENDS),
        backends_chosen=bool(args.backend),
        postgres_url=args.postgres,
        duration=args.duration,
        connections=args.connections,
        concurrency=args.concurrency,
        workers=args.workers,
    )
