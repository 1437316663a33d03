"""The tenant context on a hot path: authorized `GET /v1/tenant` (Bearer + `X-Tenant-ID`, the
membership and tenant status re-validated) as a ratio to `/healthz` in the same run (target
>= 0.5), then its p99 latency at half of that maximum rate (target <= 5 ms)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from bench import summary, wrk
from bench.load import (
    CPU_NOTE,
    HEALTHZ,
    HTTP_COLUMNS,
    Measurement,
    bracketed,
    drive,
    healthz_rate,
    http_row,
    warm_up,
    wrk_note,
)
from bench.options import Options, parse
from bench.report import Table, verdict
from bench.server import Deployment, Server, get_json, login, per_backend, running_server

RATIO_TARGET = 0.5
P99_TARGET_MS = 5.0
ROUTE = "/v1/tenant"
HALF_LOAD = f"{ROUTE} @ half rate"
# wrk's pause comes on top of each request's own latency (about this much at half load).
EXPECTED_LATENCY_MS = 1
HALF_LOAD_NOTE = (
    f"`{HALF_LOAD}`: the same connections, each pausing a random 0..2x mean delay before "
    "every request (wrk `delay()`) so that together they offer half the maximum rate "
    "measured just before; its last cell is the achieved fraction of the maximum and the "
    "p99 (closed-loop: a stall delays later sends instead of queueing them)"
)


def tenant_headers(base_url: str) -> dict[str, str]:
    """Bearer and `X-Tenant-ID` (the user's personal tenant) for the bench user, checked
    against `ROUTE`."""
    auth = {"Authorization": f"Bearer {login(base_url)}"}
    me = get_json(base_url, "/v1/me", auth)
    tenant = {**auth, "X-Tenant-ID": str(me["default_tenant_id"])}
    get_json(base_url, ROUTE, tenant)
    return tenant


def at_half_rate(server: Server, script: str, maximum: float, options: Options) -> Measurement:
    """`ROUTE` with each connection pausing so that together they offer half of `maximum`."""
    delay_ms = max(0, round(options.connections * 1000 / (maximum / 2)) - EXPECTED_LATENCY_MS)
    return drive(server, ROUTE, wrk.paced(script, mean_delay_ms=delay_ms), options)


def half_rate_verdict(half: Measurement, maximum: float) -> str:
    p99 = half.result.p99_ms
    passed = "met" if p99 <= P99_TARGET_MS else "MISSED"
    return (
        f"{half.rate / maximum:.2f} of max; p99 {p99:.2f} ms (target <= {P99_TARGET_MS}: {passed})"
    )


def measure(options: Options, table: Table, backend: str, target: Deployment) -> None:
    target.create_user()
    with running_server(target, workers=options.workers) as server:
        tenant = tenant_headers(server.base_url)
        scripts = {HEALTHZ: wrk.static_request(), ROUTE: wrk.static_request(headers=tenant)}
        for route, script in scripts.items():
            warm_up(server, route, script, options)
        runs = [drive(server, route, scripts[route], options) for route in bracketed([ROUTE])]
        maximum = next(run.rate for run in runs if run.route == ROUTE)
        half = at_half_rate(server, scripts[ROUTE], maximum, options)
    baseline = healthz_rate(runs)
    for run in runs:
        cells = http_row(backend, run, baseline)
        if run.route == ROUTE:
            ratio = run.rate / baseline
            cells[-1] = f"{ratio:.2f} (target >= {RATIO_TARGET}: {verdict(ratio, RATIO_TARGET)})"
            summary.record(
                "http_tenant",
                f"`GET /v1/tenant` / `/healthz` ({backend})",
                f">= {RATIO_TARGET}",
                f"{ratio:.2f}",
                summary.at_least(ratio, RATIO_TARGET),
            )
        table.add(*cells)
    cells = http_row(backend, half, baseline)
    cells[1] = HALF_LOAD
    cells[-1] = half_rate_verdict(half, maximum)
    table.add(*cells)
    record_half_rate("http_tenant", backend, half, maximum)


def record_half_rate(benchmark: str, backend: str, half: Measurement, maximum: float) -> None:
    p99 = half.result.p99_ms
    summary.record(
        benchmark,
        f"`GET /v1/tenant` p99 at half of its maximum rate ({backend})",
        f"<= {P99_TARGET_MS:.0f} ms",
        f"{p99:.2f} ms at {half.rate / maximum:.2f} of max",
        summary.at_most(p99, P99_TARGET_MS),
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(__doc__ or "", argv)
    table = Table("Authorized GET /v1/tenant vs /healthz (wrk)", HTTP_COLUMNS)
    table.notes += [
        CPU_NOTE,
        wrk_note(ROUTE, options),
        f"`{ROUTE}` sends `Authorization: Bearer` and `X-Tenant-ID` (the user's personal tenant)",
        HALF_LOAD_NOTE,
        "each route is warmed up for 1 s first; the ratio uses the mean of both /healthz runs",
    ]
    return per_backend(options, tag="tenant", table=table, measure=measure)


if __name__ == "__main__":
    sys.exit(main())
