"""The peer comparison: Tenantry's authorized `GET /v1/tenant` (Bearer + `X-Tenant-ID`, the
membership re-validated) beside `GET /users/me` of the fastapi-users example app
(bench/peers/fastapi_users_app.py: SQLAlchemy + aiosqlite, JWT bearer), both on SQLite, one
uvicorn process each, with the same wrk settings. The runs alternate (peer, /v1/tenant,
/healthz) for several rounds; the table reports their medians. Targets: /v1/tenant >= 5x the
peer, >= 0.5x Tenantry's /healthz (stretch 0.75x), p99 <= 5 ms at half of its maximum rate."""

from __future__ import annotations

import os
import secrets
import shlex
import statistics
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import httpx

from bench import summary, wrk
from bench.http_tenant import (
    HALF_LOAD,
    HALF_LOAD_NOTE,
    ROUTE,
    at_half_rate,
    half_rate_verdict,
    record_half_rate,
    tenant_headers,
)
from bench.http_tenant import RATIO_TARGET as HEALTHZ_TARGET
from bench.load import CPU_NOTE, HEALTHZ, Measurement, drive, warm_up, wrk_note
from bench.options import Options, parse
from bench.report import Table, verdict
from bench.server import (
    BENCH_PASSWORD,
    HOST,
    Deployment,
    Server,
    free_port,
    get_json,
    per_backend,
    running_server,
    serving,
)

PEER_TARGET = 5.0
HEALTHZ_STRETCH = 0.75
ROUNDS = 3
PEER = "fastapi-users"
PEER_APP = "bench.peers.fastapi_users_app:app"
PEER_ROUTE = "/users/me"
PEER_EMAIL = "bench@example.com"  # email-validator refuses the special-use .test domain
# The peer's own virtualenv (its pins conflict with Tenantry's; see pyproject.toml).
PEER_PYTHON_ENV = "BENCH_PEER_PYTHON"
REPOSITORY = Path(__file__).resolve().parents[1]
COLUMNS = (
    "server",
    "route",
    "req/s (median)",
    "req/s by round",
    "p50 ms",
    "p99 ms",
    "errors",
    "server CPU ms/req",
    "ratios",
)


def peer_python() -> Path:
    """The interpreter of `.venv/peer` (next to this one), or `$BENCH_PEER_PYTHON`."""
    python = Path(os.environ.get(PEER_PYTHON_ENV) or Path(sys.prefix) / "peer" / "bin" / "python")
    if not python.exists():
        raise RuntimeError(
            f"the peer's virtualenv is missing ({python}): `make bench` creates it, or "
            "python3 -m venv .venv/peer && .venv/peer/bin/pip install --upgrade pip && "
            ".venv/peer/bin/pip install --group bench-peer"
        )
    return python


def peer_version(python: Path) -> str:
    done = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('fastapi-users'))"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def peer_command(python: str, port: str, workers: int, app_dir: str = str(REPOSITORY)) -> list[str]:
    """uvicorn with the settings `tenantry serve` gives it (log level warning, no access log,
    no proxy headers, default loop and HTTP implementation)."""
    return [
        python,
        "-m",
        "uvicorn",
        PEER_APP,
        "--app-dir",
        app_dir,
        "--host",
        HOST,
        "--port",
        port,
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
        "--no-proxy-headers",
    ]


@contextmanager
def running_peer(workdir: Path, *, workers: int) -> Iterator[Server]:
    """The peer app on a fresh SQLite file in `workdir`; it creates its tables on start-up."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")}
    env["BENCH_PEER_DATABASE"] = str(workdir / "peer.db")
    env["BENCH_PEER_SECRET"] = secrets.token_urlsafe(32)  # shared by all workers
    command = peer_command(str(peer_python()), str(port), workers)
    with serving(command, port=port, env=env, workdir=workdir, ready_path="/openapi.json") as peer:
        yield peer


def peer_token(base_url: str) -> str:
    """Register the bench user (`POST /auth/register`), then log in (`POST /auth/jwt/login`,
    a form) for its access token."""
    account = {"email": PEER_EMAIL, "password": BENCH_PASSWORD}
    registered = httpx.post(f"{base_url}/auth/register", json=account, timeout=30)
    if registered.status_code != 201:
        raise RuntimeError(f"peer register: {registered.status_code} {registered.text}")
    form = {"username": PEER_EMAIL, "password": BENCH_PASSWORD}
    response = httpx.post(f"{base_url}/auth/jwt/login", data=form, timeout=30)
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def median_row(label: str, runs: list[Measurement], ratios: str) -> list[object]:
    """The cells of `COLUMNS` for one leg's runs: medians, plus each round's rate."""
    results = [run.result for run in runs]
    non_2xx = sum(result.non_2xx for result in results)
    socket = sum(result.socket_errors for result in results)
    return [
        label,
        runs[0].route,
        statistics.median(run.rate for run in runs),
        " / ".join(f"{run.rate:,.0f}" for run in runs),
        statistics.median(result.p50_ms for result in results),
        statistics.median(result.p99_ms for result in results),
        "none" if non_2xx == socket == 0 else f"{non_2xx} non-2xx, {socket} socket",
        statistics.median(run.server_cpu_ms for run in runs),
        ratios,
    ]


def measure(options: Options, table: Table, backend: str, target: Deployment) -> None:
    target.create_user()
    python = peer_python()
    peer_label = f"{PEER} {peer_version(python)}"
    with (
        running_server(target, workers=options.workers) as tenantry,
        running_peer(target.data_dir / "peer", workers=options.workers) as peer,
    ):
        peer_auth = {"Authorization": f"Bearer {peer_token(peer.base_url)}"}
        get_json(peer.base_url, PEER_ROUTE, peer_auth)
        tenant_script = wrk.static_request(headers=tenant_headers(tenantry.base_url))
        # Each leg: a server, a route, its script; loaded one at a time, in this order.
        legs = [
            (peer, PEER_ROUTE, wrk.static_request(headers=peer_auth)),
            (tenantry, ROUTE, tenant_script),
            (tenantry, HEALTHZ, wrk.static_request()),
        ]
        for server, route, script in legs:
            warm_up(server, route, script, options)
        runs: list[list[Measurement]] = [[] for _ in legs]
        for _ in range(ROUNDS):
            for leg_runs, (server, route, script) in zip(runs, legs, strict=True):
                leg_runs.append(drive(server, route, script, options))
        peer_runs, tenant_runs, healthz_runs = runs
        maximum = statistics.median(run.rate for run in tenant_runs)
        half = at_half_rate(tenantry, tenant_script, maximum, options)

    peer_rate = statistics.median(run.rate for run in peer_runs)
    healthz = statistics.median(run.rate for run in healthz_runs)
    to_peer = maximum / peer_rate
    to_healthz = maximum / healthz
    stretch = "met" if to_healthz >= HEALTHZ_STRETCH else "not met"
    cpu_factor = statistics.median(run.server_cpu_ms for run in peer_runs) / statistics.median(
        run.server_cpu_ms for run in tenant_runs
    )
    summary.record(
        "peer",
        f"`GET /v1/tenant` / {peer_label} `GET {PEER_ROUTE}` (sqlite)",
        f">= {PEER_TARGET:g}x",
        f"{to_peer:.2f}x",
        summary.at_least(to_peer, PEER_TARGET),
    )
    summary.record(
        "peer",
        "`GET /v1/tenant` / `/healthz`, medians of the peer run (sqlite)",
        f">= {HEALTHZ_TARGET} (stretch {HEALTHZ_STRETCH})",
        f"{to_healthz:.2f}",
        summary.at_least(to_healthz, HEALTHZ_TARGET),
    )
    record_half_rate("peer", "sqlite, peer run", half, maximum)
    table.add(*median_row(peer_label, peer_runs, "1.00 (the peer)"))
    table.add(
        *median_row(
            "tenantry",
            tenant_runs,
            f"{to_peer:.2f}x the peer (target >= {PEER_TARGET}: {verdict(to_peer, PEER_TARGET)}); "
            f"{to_healthz:.2f} of /healthz (target >= {HEALTHZ_TARGET}: "
            f"{verdict(to_healthz, HEALTHZ_TARGET)}, stretch {HEALTHZ_STRETCH}: {stretch}); "
            f"peer CPU/req {cpu_factor:.2f}x",
        )
    )
    table.add(*median_row("tenantry", healthz_runs, "1.00"))
    result = half.result
    table.add(
        "tenantry",
        HALF_LOAD,
        half.rate,
        "-",
        result.p50_ms,
        result.p99_ms,
        result.errors(),
        half.server_cpu_ms,
        half_rate_verdict(half, maximum),
    )
    rounds = ", ".join(
        f"{t.rate / p.rate:.2f}x / {t.rate / h.rate:.2f}"
        for p, t, h in zip(peer_runs, tenant_runs, healthz_runs, strict=True)
    )
    table.notes.append(f"per round, /v1/tenant to the peer / to /healthz: {rounds}")


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(__doc__ or "", argv)
    table = Table(f"GET {ROUTE} vs the {PEER} peer's GET {PEER_ROUTE} (wrk)", COLUMNS)
    table.notes += [
        CPU_NOTE,
        wrk_note(ROUTE, options),
        f"peer: `{shlex.join(peer_command('.venv/peer/bin/python', 'PORT', options.workers, '.'))}`"
        ", the fastapi-users docs' full example with SQLAlchemy + "
        "aiosqlite and a JWT bearer backend; its own virtualenv `.venv/peer` "
        "(`pip install --group bench-peer`)",
        f"`{PEER_ROUTE}` sends the peer's `Authorization: Bearer` (from `POST /auth/jwt/login` "
        f"after `POST /auth/register`); `{ROUTE}` sends Tenantry's Bearer and `X-Tenant-ID` "
        "(the user's personal tenant)",
        f"both servers run side by side, one loaded at a time: each leg is warmed up for 1 s, "
        f"then {ROUNDS} rounds of peer, {ROUTE}, {HEALTHZ}; rows give the medians over rounds, "
        f"the ratios are ratios of medians, and the half rate is half the median {ROUTE} rate",
        HALF_LOAD_NOTE,
        "peer CPU/req = the peer's median server CPU ms/req over Tenantry's for /v1/tenant "
        "(less disturbed by other work on the machine than req/s)",
    ]
    table.notes.append("Tenantry runs on SQLite like the peer (--backend does not apply)")
    return per_backend(
        replace(options, backends=("sqlite",)), tag="peer", table=table, measure=measure
    )


if __name__ == "__main__":
    sys.exit(main())
