"""Refresh-token rotation over HTTP: `POST /v1/auth/refresh` req/s (target >= 1000/s), with
/healthz on the same server in the same run as the reference: served by one worker per core
(how this machine would be deployed; the target's row) and by one worker (`--workers` sets
that count), each on its own server with its own sessions.

Every refresh rotates its token, so each request needs one never used before. Set-up opens
sessions straight in the server's database through the domain (`start_session`, as sign-in
does) and writes their refresh tokens to a file; the wrk Lua script sends each token once and
chains the new token from every response into a later request, so a few per connection
suffice for any duration."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bench import summary, wrk
from bench.fixtures import mint_refresh_tokens
from bench.load import (
    CPU_NOTE,
    HEALTHZ,
    HTTP_COLUMNS,
    bracketed,
    drive,
    healthz_rate,
    http_row,
    warm_up,
)
from bench.options import Options, parse
from bench.report import Table, verdict
from bench.server import Deployment, per_backend, running_server

TARGET = 1000.0
ROUTE = "/v1/auth/refresh"
CORES = os.cpu_count() or 1
# Spare tokens per connection: a request lost to a timeout or an error loses its chain.
TOKENS_PER_CONNECTION = 4

CHAIN = """
local tokens = {}
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  local index = 0
  for line in io.lines(%(path)s) do
    if index %% %(threads)d == id then table.insert(tokens, line) end
    index = index + 1
  end
end
local headers = { ["Content-Type"] = "application/json" }
function request()
  -- Out of tokens: an invalid one, which shows up as a non-2xx response in the results.
  local token = table.remove(tokens) or "rt_exhausted"
  return wrk.format("POST", nil, headers, '{"refresh_token":"' .. token .. '"}')
end
function response(status, headers, body)
  if status == 200 then
    local token = body:match('"refresh_token"%%s*:%%s*"([^"]+)"')
    if token then table.insert(tokens, token) end
  end
end
"""


def chain_script(token_file: Path) -> str:
    return CHAIN % {"path": wrk.lua_string(str(token_file)), "threads": wrk.THREADS}


def write_tokens(workdir: Path, name: str, tokens: list[str]) -> Path:
    path = workdir / name
    path.write_text("\n".join(tokens) + "\n")
    return path


def measure(options: Options, table: Table, backend: str, target: Deployment) -> None:
    for workers in sorted({options.workers, CORES}):
        measure_served(options, table, backend, target, workers)


def measure_served(
    options: Options, table: Table, backend: str, target: Deployment, workers: int
) -> None:
    user_id = target.create_user()
    count = options.connections * TOKENS_PER_CONNECTION
    tokens = asyncio.run(mint_refresh_tokens(target.database_url, user_id, 2 * count))
    warm_tokens = write_tokens(target.data_dir, f"warm-up-tokens-{workers}.txt", tokens[:count])
    run_tokens = write_tokens(target.data_dir, f"tokens-{workers}.txt", tokens[count:])
    health = wrk.static_request()
    with running_server(target, workers=workers) as server:
        warm_up(server, HEALTHZ, health, options)
        warm_up(server, ROUTE, chain_script(warm_tokens), options)
        scripts = {HEALTHZ: health, ROUTE: chain_script(run_tokens)}
        runs = [drive(server, route, scripts[route], options) for route in bracketed([ROUTE])]
    baseline = healthz_rate(runs)
    served = f"{workers} worker{'s' if workers > 1 else ''}"
    for run in runs:
        cells = http_row(f"{backend}, {served}", run, baseline)
        if run.route == ROUTE:
            per_core = workers == CORES
            goal = (
                f"target >= {TARGET:,.0f}/s: {verdict(run.rate, TARGET)}"
                if per_core
                else "reported"
            )
            cells.append(f"{run.rate:,.0f}/s ({goal})")
            summary.record(
                "refresh",
                f"refresh-token rotations/s ({backend}, {served})",
                f">= {TARGET:,.0f}/s" if per_core else "report",
                f"{run.rate:,.0f}/s",
                summary.at_least(run.rate, TARGET) if per_core else summary.REPORTED,
            )
        else:
            cells.append("")
        table.add(*cells)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(__doc__ or "", argv)
    table = Table("Refresh-token rotation (wrk)", [*HTTP_COLUMNS, "refresh vs target"])
    table.notes += [
        CPU_NOTE,
        "load: `"
        + wrk.describe(
            f"http://127.0.0.1:PORT{ROUTE}",
            duration=options.duration,
            connections=options.connections,
        )
        + f"` against `tenantry serve --workers N`, N in {sorted({options.workers, CORES})}, "
        "POST bodies from a Lua script that chains tokens",
        f"2 x {options.connections * TOKENS_PER_CONNECTION} sessions (warm-up, run) per server "
        "opened in set-up through `start_session`; every refresh token is presented exactly once",
        f"the target's row is the server with one worker per core ({CORES}), as this machine "
        "would be deployed; wrk's thread shares those cores",
    ]
    return per_backend(options, tag="refresh", table=table, measure=measure)


if __name__ == "__main__":
    sys.exit(main())
