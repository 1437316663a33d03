"""`python -m bench` (`make bench`): every benchmark in turn, each printing its table. The
options (see `--help`) apply to all of them; each also runs alone as `python -m bench.NAME`."""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable, Sequence

from bench import (
    collect,
    eviction,
    http_me,
    http_tenant,
    login,
    onboarding,
    peer,
    refresh,
    router,
    scale,
    webhooks,
)
from bench.options import parse

BENCHMARKS: list[tuple[str, Callable[[Sequence[str] | None], int]]] = [
    ("http_me", http_me.main),
    ("http_tenant", http_tenant.main),
    ("collect", collect.main),
    ("eviction", eviction.main),
    ("login", login.main),
    ("onboarding", onboarding.main),
    ("peer", peer.main),
    ("refresh", refresh.main),
    ("router", router.main),
    ("scale", scale.main),
    ("webhooks", webhooks.main),
]


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parse(__doc__ or "", arguments)  # reject bad options before anything starts
    failed: list[str] = []
    started = time.perf_counter()
    for name, run in BENCHMARKS:
        print(f"# bench.{name}\n", flush=True)
        try:
            if run(arguments) != 0:
                failed.append(name)
        except Exception:  # one broken benchmark must not hide the others' tables
            traceback.print_exc()
            failed.append(name)
    print(f"all benchmarks finished in {time.perf_counter() - started:.0f} s", flush=True)
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
