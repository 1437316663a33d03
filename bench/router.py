"""The storage router's cost: the same products list (`GET /v1/products`, 50 products) for a
pool tenant and for a silo tenant, in one run, as a ratio silo/pool. The silo's request opens
a unit of work on the tenant's own database instead of the shared pool tables."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import httpx

from bench import summary, wrk
from bench.load import CPU_NOTE, HTTP_COLUMNS, Measurement, drive, http_row, warm_up, wrk_note
from bench.options import Options, parse
from bench.report import Table
from bench.server import Deployment, get_json, login, per_backend, running_server

ROUTE = "/v1/products?limit=50"
PRODUCTS = 50


def _post(base_url: str, path: str, headers: dict[str, str], body: object, method: str) -> object:
    response = httpx.request(method, f"{base_url}{path}", headers=headers, json=body, timeout=60)
    if response.status_code >= 300:
        raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
    return response.json()


def _seed(base_url: str, headers: dict[str, str]) -> None:
    for number in range(PRODUCTS):
        product = {"name": f"Product {number}", "price_cents": 100 + number, "currency": "EUR"}
        _post(base_url, "/v1/products", headers, product, "POST")


def measure(options: Options, table: Table, backend: str, target: Deployment) -> None:
    target.create_user()  # a platform admin: it moves the second tenant to a silo plan
    with running_server(target, workers=options.workers) as server:
        auth = {"Authorization": f"Bearer {login(server.base_url)}"}
        me = get_json(server.base_url, "/v1/me", auth)
        pool = {**auth, "X-Tenant-ID": str(me["default_tenant_id"])}
        created = _post(server.base_url, "/v1/tenants", auth, {"name": "Silo Co"}, "POST")
        assert isinstance(created, dict)
        silo_id = str(created["id"])
        _post(server.base_url, f"/v1/admin/tenants/{silo_id}", auth, {"plan": "premium"}, "PATCH")
        silo = {**auth, "X-Tenant-ID": silo_id}
        isolation = get_json(server.base_url, "/v1/tenant", silo)["isolation"]
        if isolation != "silo":
            raise RuntimeError(f"the second tenant is {isolation}, not silo")
        _seed(server.base_url, pool)
        _seed(server.base_url, silo)
        scripts = {
            "pool": wrk.static_request(headers=pool),
            "silo": wrk.static_request(headers=silo),
        }
        for script in scripts.values():
            warm_up(server, ROUTE, script, options)
        # Alternated, so a drift in background load weighs on both sides alike.
        runs = [
            dataclasses.replace(drive(server, ROUTE, scripts[kind], options), route=kind)
            for kind in ("pool", "silo", "silo", "pool")
        ]
    pool_rate = _mean(runs, "pool")
    for run in runs:
        cells = http_row(backend, run, pool_rate)
        cells[1] = f"{ROUTE} ({run.route} tenant)"
        table.add(*cells)
    ratio = _mean(runs, "silo") / pool_rate
    table.notes.append(f"{backend}: silo/pool req/s = {ratio:.2f} (means of two runs each)")
    summary.record(
        "router",
        f"products list, silo / pool tenant req/s ({backend})",
        "report",
        f"{ratio:.2f}",
        summary.REPORTED,
    )


def _mean(runs: list[Measurement], kind: str) -> float:
    rates = [run.rate for run in runs if run.route == kind]
    return sum(rates) / len(rates)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(__doc__ or "", argv)
    columns = (*HTTP_COLUMNS[:-1], "ratio to pool")
    table = Table("Products list on a pool tenant vs a silo tenant (wrk)", columns)
    table.notes += [
        CPU_NOTE,
        wrk_note(ROUTE, options),
        f"both tenants hold {PRODUCTS} products; the list returns all of them",
    ]
    return per_backend(options, tag="router", table=table, measure=measure)


if __name__ == "__main__":
    raise SystemExit(main())
