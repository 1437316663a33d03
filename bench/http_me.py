"""Authorized reads over HTTP: `GET /v1/me` and the tenant-scoped `GET /v1/projects`, as a
ratio to `GET /healthz` on the same server in the same run (target: /v1/me >= 0.5).

/healthz is measured before and after the authorized routes and the ratio uses their mean, so
a drift in background load during the run shows instead of biasing the ratio."""

from __future__ import annotations

import sys
from collections.abc import Sequence

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
from bench.options import Options, parse
from bench.report import Table, verdict
from bench.server import Deployment, get_json, login, per_backend, running_server

TARGET = 0.5
ROUTES = ["/v1/me", "/v1/projects"]


def measure(options: Options, table: Table, backend: str, target: Deployment) -> None:
    target.create_user()
    with running_server(target, workers=options.workers) as server:
        auth = {"Authorization": f"Bearer {login(server.base_url)}"}
        me = get_json(server.base_url, "/v1/me", auth)
        tenant = {**auth, "X-Tenant-ID": str(me["default_tenant_id"])}
        get_json(server.base_url, "/v1/projects", tenant)
        scripts = {
            HEALTHZ: wrk.static_request(),
            "/v1/me": wrk.static_request(headers=auth),
            "/v1/projects": wrk.static_request(headers=tenant),
        }
        for route, script in scripts.items():
            warm_up(server, route, script, options)
        runs = [drive(server, route, scripts[route], options) for route in bracketed(ROUTES)]
    baseline = healthz_rate(runs)
    for run in runs:
        cells = http_row(backend, run, baseline)
        if run.route == "/v1/me":
            ratio = run.rate / baseline
            cells[-1] = f"{ratio:.2f} (target >= {TARGET}: {verdict(ratio, TARGET)})"
            summary.record(
                "http_me",
                f"`GET /v1/me` / `/healthz` ({backend})",
                f">= {TARGET}",
                f"{ratio:.2f}",
                summary.at_least(ratio, TARGET),
            )
        table.add(*cells)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(__doc__ or "", argv)
    table = Table("Authorized reads vs /healthz (wrk)", HTTP_COLUMNS)
    table.notes += [
        CPU_NOTE,
        wrk_note("/v1/me", options),
        "`/v1/me` and `/v1/projects` send `Authorization: Bearer`; `/v1/projects` also sends "
        "`X-Tenant-ID` (the user's personal tenant)",
        "each route is warmed up for 1 s first; the ratio uses the mean of both /healthz runs",
    ]
    return per_backend(options, tag="me", table=table, measure=measure)


if __name__ == "__main__":
    sys.exit(main())
