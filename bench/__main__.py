"""`python -m bench` (`make bench`): every benchmark in turn, each printing its tables, then
docs/benchmarks.md rewritten between its markers: machine, versions, the command, a summary
of every target with its result, the time per benchmark and each benchmark's tables. The
options (see `--help`) apply to all of them; each also runs alone as `python -m bench.NAME`.
Only here: `--only NAME` (repeatable) runs a subset, `--docs PATH` writes another file,
`--no-docs` writes none."""

from __future__ import annotations

import argparse
import io
import shlex
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from contextlib import redirect_stdout
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bench import (
    collect,
    document,
    eviction,
    flood,
    http_me,
    http_tenant,
    login,
    onboarding,
    peer,
    refresh,
    router,
    scale,
    signup,
    summary,
    webhooks,
    workers,
)
from bench.options import parse

BENCHMARKS: list[tuple[str, Callable[[Sequence[str] | None], int]]] = [
    ("http_me", http_me.main),
    ("http_tenant", http_tenant.main),
    ("peer", peer.main),
    ("login", login.main),
    ("signup", signup.main),
    ("flood", flood.main),
    ("refresh", refresh.main),
    ("onboarding", onboarding.main),
    ("workers", workers.main),
    ("scale", scale.main),
    ("eviction", eviction.main),
    ("collect", collect.main),
    ("router", router.main),
    ("webhooks", webhooks.main),
]


class Tee(io.TextIOBase):
    """Writes to the terminal and keeps a copy."""

    def __init__(self, terminal: TextIO) -> None:
        self.terminal = terminal
        self.copy = io.StringIO()

    def write(self, text: str) -> int:
        self.terminal.write(text)
        return self.copy.write(text)

    def flush(self) -> None:
        self.terminal.flush()


def suite_arguments(arguments: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """The options only the suite takes, and the rest (for every benchmark)."""
    names = [name for name, _ in BENCHMARKS]
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--only", action="append", choices=names)
    parser.add_argument("--docs", type=Path, default=document.DOCUMENT)
    parser.add_argument("--no-docs", action="store_true")
    return parser.parse_known_args(arguments)


def run_one(name: str, run: Callable[[Sequence[str] | None], int], arguments: list[str]) -> bool:
    """Run one benchmark; False if it failed (its traceback goes to stderr and the output)."""
    try:
        return run(arguments) == 0
    except Exception:  # one broken benchmark must not hide the others' tables
        text = traceback.format_exc()
        sys.stderr.write(text)
        print(f"bench.{name} failed:\n\n```\n{text.rstrip()}\n```")
        return False


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    suite, arguments = suite_arguments(given)
    options = parse(__doc__ or "", arguments)  # reject bad options before anything starts
    command = shlex.join([".venv/bin/python", "-m", "bench", *given])
    sections: list[document.Section] = []
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    for name, run in BENCHMARKS:
        if suite.only and name not in suite.only:
            continue
        print(f"# bench.{name}\n", flush=True)
        summary.clear()
        began = time.perf_counter()
        tee = Tee(sys.stdout)
        with redirect_stdout(tee):
            passed = run_one(name, run, arguments)
        seconds = time.perf_counter() - began
        print(f"bench.{name}: {seconds:.0f} s\n", flush=True)
        sections.append(
            document.Section(name, tee.copy.getvalue(), seconds, not passed, summary.recorded())
        )
    total = time.perf_counter() - started
    print(f"all benchmarks finished in {total:.0f} s\n", flush=True)
    print("\n".join(document.summary_table(sections)), flush=True)
    if not suite.no_docs:
        block = document.generated(
            sections,
            command=command,
            postgres_url=options.postgres_url,
            started=started_at,
            total=total,
        )
        document.write(suite.docs, block)
        print(f"\nwrote {suite.docs}", flush=True)
    failed = [section.name for section in sections if section.failed]
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
