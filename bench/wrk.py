"""Load runs with wrk. Every run uses a generated Lua script whose `done()` prints one
machine-readable line, so nothing depends on wrk's human-oriented report layout."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

MARKER = "BENCH_JSON "
THREADS = 1  # one wrk thread outpaces one Python server and leaves the second core to it

DONE = r"""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_JSON {\"requests\":%.0f,\"duration_us\":%.0f,\"p50_us\":%.0f,\"p99_us\":%.0f,"
    .. "\"non_2xx\":%.0f,\"socket_errors\":%.0f}\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def clean(self) -> bool:
        return self.non_2xx == 0 and self.socket_errors == 0

    def errors(self) -> str:
        return "none" if self.clean else f"{self.non_2xx} non-2xx, {self.socket_errors} socket"


def lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal here


def static_request(
    method: str = "GET", body: str | None = None, headers: Mapping[str, str] | None = None
) -> str:
    """A script for one fixed request (wrk sends it pre-built, the cheapest mode)."""
    lines = [f"wrk.method = {lua_string(method)}"]
    if body is not None:
        lines.append(f"wrk.body = {lua_string(body)}")
    lines += [
        f"wrk.headers[{lua_string(name)}] = {lua_string(value)}"
        for name, value in (headers or {}).items()
    ]
    return "\n".join(lines) + "\n"


def paced(script_text: str, *, mean_delay_ms: int) -> str:
    """`script_text` with each connection pausing before every request, on average
    `mean_delay_ms` (uniform jitter), for runs at a fraction of the maximum rate. The jitter
    keeps connections from firing in lockstep bursts that no real client mix produces. wrk
    measures latency from send to response, so the pause is not counted."""
    return script_text + (f"function delay()\n  return math.random(0, {2 * mean_delay_ms})\nend\n")


def rotating_bodies(
    method: str, bodies: Sequence[str], headers: Mapping[str, str] | None = None
) -> str:
    """A script that sends `bodies` in turn, round robin."""
    header_table = ", ".join(
        f"[{lua_string(name)}] = {lua_string(value)}" for name, value in (headers or {}).items()
    )
    body_table = ",\n  ".join(lua_string(body) for body in bodies)
    return f"""
local bodies = {{
  {body_table}
}}
local headers = {{ {header_table} }}
local next_body = 0
function request()
  next_body = next_body % #bodies + 1
  return wrk.format({lua_string(method)}, nil, headers, bodies[next_body])
end
"""


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed: apt-get install -y wrk")
    return found


def command(url: str, *, script: Path, duration: float, connections: int) -> list[str]:
    return [
        wrk_binary(),
        f"-t{THREADS}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]


def describe(url: str, *, duration: float, connections: int) -> str:
    """The wrk command line as printed in the tables (the script path is a temporary file)."""
    shown = command(url, script=Path("<script>.lua"), duration=duration, connections=connections)
    return shlex.join(["wrk", *shown[1:]])


def run(
    url: str, *, script_text: str, workdir: Path, duration: float, connections: int
) -> WrkResult:
    """Drive `url` for `duration` seconds with `connections` keep-alive connections."""
    script = workdir / "wrk-script.lua"
    script.write_text(script_text + DONE)
    done = subprocess.run(
        command(url, script=script, duration=duration, connections=connections),
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=False,
    )
    for line in done.stdout.splitlines():
        if line.startswith(MARKER):
            data = json.loads(line.removeprefix(MARKER))
            return WrkResult(
                requests=int(data["requests"]),
                seconds=data["duration_us"] / 1e6,
                p50_ms=data["p50_us"] / 1e3,
                p99_ms=data["p99_us"] / 1e3,
                non_2xx=int(data["non_2xx"]),
                socket_errors=int(data["socket_errors"]),
            )
    raise RuntimeError(f"wrk produced no result:\n{done.stdout}\n{done.stderr}")
