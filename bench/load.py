"""One load run against a running server: wrk's numbers plus the server's CPU time per
request, which competing processes on the machine disturb far less than req/s."""

from __future__ import annotations

from dataclasses import dataclass

from bench import wrk
from bench.options import Options
from bench.server import Server

WARMUP_SECONDS = 1.0
CPU_NOTE = (
    "server CPU ms/req = user+system CPU time of the server process (all threads, all workers) "
    "during the run, from /proc, divided by the requests completed"
)


@dataclass(frozen=True)
class Measurement:
    route: str
    result: wrk.WrkResult
    server_cpu_ms: float  # server CPU milliseconds per completed request

    @property
    def rate(self) -> float:
        return self.result.rate


def drive(
    server: Server, route: str, script_text: str, options: Options, *, duration: float = 0.0
) -> Measurement:
    """Load `route` with `options.connections` connections for `duration` seconds (default:
    `options.duration`)."""
    workdir = server.workdir
    before = server.cpu_seconds()
    result = wrk.run(
        server.base_url + route,
        script_text=script_text,
        workdir=workdir,
        duration=duration or options.duration,
        connections=options.connections,
    )
    spent = server.cpu_seconds() - before
    return Measurement(route, result, 1000 * spent / max(result.requests, 1))


def warm_up(server: Server, route: str, script_text: str, options: Options) -> None:
    """A short unmeasured run: connection pools, statement caches and code paths warm."""
    drive(server, route, script_text, options, duration=WARMUP_SECONDS)


def wrk_note(route: str, options: Options) -> str:
    shown = wrk.describe(
        f"http://127.0.0.1:PORT{route}", duration=options.duration, connections=options.connections
    )
    workers = "one uvicorn worker" if options.workers == 1 else f"{options.workers} workers"
    return f"load: `{shown}` against `tenantry serve --workers {options.workers}` ({workers})"


HEALTHZ = "/healthz"
HTTP_COLUMNS = (
    "backend",
    "route",
    "req/s",
    "p50 ms",
    "p99 ms",
    "errors",
    "server CPU ms/req",
    "ratio to /healthz",
)


def bracketed(routes: list[str]) -> list[str]:
    """`routes` between two /healthz runs, the baseline every ratio is taken against."""
    return [HEALTHZ, *routes, HEALTHZ]


def healthz_rate(runs: list[Measurement]) -> float:
    """The mean /healthz rate: a drift in background load during the run shows as two
    different /healthz rows instead of silently biasing the ratios."""
    rates = [run.rate for run in runs if run.route == HEALTHZ]
    return sum(rates) / len(rates)


def http_row(backend: str, run: Measurement, baseline: float) -> list[object]:
    """The cells of `HTTP_COLUMNS` for one run."""
    result = run.result
    return [
        backend,
        run.route,
        run.rate,
        result.p50_ms,
        result.p99_ms,
        result.errors(),
        run.server_cpu_ms,
        f"{run.rate / baseline:.2f}",
    ]
