"""Event ingest: `POST /v1/collect` with one environment's client key at 32 connections, as
events/s and p99 latency (target on PostgreSQL: >= 1,500 events/s with p99 <= 50 ms), beside
`/healthz` in the same run. Every 202 is an event committed through the batching writer.
Runs on PostgreSQL unless --backend is given."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from bench import summary, wrk
from bench.load import (
    CPU_NOTE,
    HEALTHZ,
    HTTP_COLUMNS,
    bracketed,
    drive,
    healthz_rate,
    http_row,
    warm_up,
    wrk_note,
)
from bench.options import Options, default_to, parse
from bench.report import Table
from bench.server import Deployment, get_json, login, per_backend, running_server

ROUTE = "/v1/collect"
RATE_TARGET = 1500.0
P99_TARGET_MS = 50.0
EVENT = {"type": "page_view", "data": {"url": "https://shop.example/cart", "title": "Cart"}}


@dataclass(frozen=True)
class Unthrottled(Deployment):
    """The per-key limit (default 50/s per worker) lifted: the benchmark sends with one key."""

    def environment(self) -> dict[str, str]:
        lifted = {"TENANTRY_COLLECT_RATE": "1000000", "TENANTRY_COLLECT_BURST": "1000000"}
        return {**super().environment(), **lifted}


def client_key(base_url: str) -> str:
    """The client key of the first environment of the bench user's first project."""
    auth = {"Authorization": f"Bearer {login(base_url)}"}
    me = get_json(base_url, "/v1/me", auth)
    headers = {**auth, "X-Tenant-ID": str(me["default_tenant_id"])}
    projects = get_json(base_url, "/v1/projects", headers)["items"]
    project = projects[0]["id"]  # type: ignore[index]
    environments = get_json(base_url, f"/v1/projects/{project}/environments", headers)
    return str(environments["items"][0]["client_key"])  # type: ignore[index]


def measure(options: Options, table: Table, backend: str, target: Deployment) -> None:
    target = Unthrottled(target.database_url, target.data_dir)
    target.create_user()
    with running_server(target, workers=options.workers) as server:
        headers = {"Content-Type": "application/json", "X-Client-Key": client_key(server.base_url)}
        scripts = {
            HEALTHZ: wrk.static_request(),
            ROUTE: wrk.static_request("POST", json.dumps(EVENT), headers),
        }
        for route, script in scripts.items():
            warm_up(server, route, script, options)
        runs = [drive(server, route, scripts[route], options) for route in bracketed([ROUTE])]
    baseline = healthz_rate(runs)
    for run in runs:
        cells = http_row(backend, run, baseline)
        if run.route == ROUTE:
            met = run.rate >= RATE_TARGET and run.result.p99_ms <= P99_TARGET_MS
            cells[-1] = (
                f"{cells[-1]}; events/s >= {RATE_TARGET:.0f} and p99 <= {P99_TARGET_MS:.0f} ms: "
                + ("met" if met else "MISSED")
            )
            summary.record(
                "collect",
                f"`POST /v1/collect` events/s and p99 ({backend})",
                f">= {RATE_TARGET:,.0f}/s, p99 <= {P99_TARGET_MS:.0f} ms"
                + (" (PostgreSQL)" if backend == "postgresql" else " (applies to PostgreSQL)"),
                f"{run.rate:,.0f}/s, p99 {run.result.p99_ms:.1f} ms",
                (summary.MET if met else summary.MISSED)
                if backend == "postgresql"
                else summary.REPORTED,
            )
        table.add(*cells)


def main(argv: Sequence[str] | None = None) -> int:
    options = default_to(parse(__doc__ or "", argv), "postgresql")  # the target's database
    table = Table("Event ingest: POST /v1/collect vs /healthz (wrk)", HTTP_COLUMNS)
    table.notes += [
        CPU_NOTE,
        wrk_note(ROUTE, options),
        f"`{ROUTE}` sends `X-Client-Key` (one environment) and a {len(json.dumps(EVENT))}-byte "
        "JSON event; a 202 means the event is committed (batches of up to 500 or every 5 ms)",
        "the per-key rate limit is lifted for the run (TENANTRY_COLLECT_RATE/BURST)",
        "each route is warmed up for 1 s first; the target applies to PostgreSQL (the only "
        "backend unless --backend is given)",
    ]
    return per_backend(options, tag="collect", table=table, measure=measure)


if __name__ == "__main__":
    raise SystemExit(main())
