"""A real `tenantry serve` process on 127.0.0.1 with its own data directory, and the
one-time set-up the HTTP benchmarks share (a confirmed user, a login)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.databases import BackendUnavailable, bench_database
from bench.options import Options
from bench.report import Table
from tenantry.settings import Settings

HOST = "127.0.0.1"
START_TIMEOUT = 60.0
BENCH_EMAIL = "bench@bench.example"  # email-validator refuses the special-use .test domain
BENCH_PASSWORD = "correct horse battery staple 42"


def tenantry_command() -> str:
    """The `tenantry` console script installed next to this interpreter."""
    return str(Path(sys.executable).with_name("tenantry"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Deployment:
    """The configuration a server process and the set-up commands share."""

    database_url: str
    data_dir: Path

    def environment(self) -> dict[str, str]:
        defaults = Settings.model_fields
        # Only the settings below: stray TENANTRY_* variables would make runs incomparable.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")}
        return {
            **inherited,
            "TENANTRY_DATABASE_URL": self.database_url,
            "TENANTRY_DATA_DIR": str(self.data_dir),
            "TENANTRY_LOG_LEVEL": "WARNING",
            # Pin the password-hash cost to the shipped defaults the login bound is computed for.
            "TENANTRY_ARGON2_MEMORY_KIB": str(defaults["argon2_memory_kib"].default),
            "TENANTRY_ARGON2_TIME_COST": str(defaults["argon2_time_cost"].default),
            "TENANTRY_ARGON2_PARALLELISM": str(defaults["argon2_parallelism"].default),
            # All the load comes from this one address: the per-address hashing allowance
            # would stop it (bench.flood measures what that allowance is for).
            "TENANTRY_CLIENT_HASH_LIMIT": "1000000000",
            "TENANTRY_REGISTRATION_CLIENT_LIMIT": "1000000000",
        }

    def run(self, *args: str) -> str:
        """Run a `tenantry` CLI command against this deployment; its stdout."""
        done = subprocess.run(
            [tenantry_command(), *args],
            env=self.environment(),
            cwd=self.data_dir,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"tenantry {' '.join(args[:2])} failed:\n{done.stderr}")
        return done.stdout

    def create_user(self, email: str = BENCH_EMAIL, password: str = BENCH_PASSWORD) -> uuid.UUID:
        """A confirmed user with a workspace (via `tenantry admin create`, which also migrates)."""
        output = self.run("admin", "create", "--email", email, "--password", password)
        return uuid.UUID(output.rsplit("(", 1)[1].split(")", 1)[0])


@contextmanager
def deployment(backend: str, *, tag: str, postgres_url: str) -> Iterator[Deployment]:
    """A fresh data directory and empty database for one backend."""
    with (
        tempfile.TemporaryDirectory(prefix=f"tenantry-bench-{tag}-") as tmp,
        bench_database(backend, tag=tag, workdir=Path(tmp), postgres_url=postgres_url) as url,
    ):
        yield Deployment(url, Path(tmp))


def per_backend(
    options: Options,
    *,
    tag: str,
    table: Table,
    measure: Callable[[Options, Table, str, Deployment], None],
) -> int:
    """Run `measure` once per selected backend (an unreachable backend becomes a note), then
    print the table; returns the exit status."""
    for backend in options.backends:
        try:
            with deployment(backend, tag=tag, postgres_url=options.postgres_url) as target:
                measure(options, table, backend, target)
        except BackendUnavailable as error:
            table.notes.append(f"{backend} skipped: {error}")
    table.print()
    return 0


@dataclass(frozen=True)
class Server:
    base_url: str
    pid: int
    workdir: Path  # scratch space for load scripts and token files

    def cpu_seconds(self) -> float:
        """User + system CPU time so far of the server process and its worker processes
        (every thread of each)."""
        return sum(_cpu_seconds(pid) for pid in process_tree(self.pid))


def _stat_fields(pid: int) -> list[str]:
    # The fields after the parenthesised command name, which may itself contain spaces.
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def _cpu_seconds(pid: int) -> float:
    try:
        fields = _stat_fields(pid)
    except OSError:  # exited meanwhile
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int(_stat_fields(int(entry.name))[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry.name))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, []))
    return tree


@contextmanager
def running_server(
    deployment: Deployment, *, workers: int = 1, settings: Mapping[str, str] | None = None
) -> Iterator[Server]:
    """Serve `deployment` from a `tenantry serve --workers N` subprocess, with the
    `TENANTRY_*` `settings` on top of the deployment's."""
    port = free_port()
    command = [tenantry_command(), "serve", "--host", HOST, "--port", str(port)]
    with serving(
        [*command, "--workers", str(workers)],
        port=port,
        env={**deployment.environment(), **(settings or {})},
        workdir=deployment.data_dir,
    ) as server:
        yield server


@contextmanager
def serving(
    command: list[str],
    *,
    port: int,
    env: dict[str, str],
    workdir: Path,
    ready_path: str = "/healthz",
) -> Iterator[Server]:
    """Run a server `command` listening on `HOST:port` in `workdir` (its log goes there) until
    the context ends; it is up once `GET ready_path` answers 200."""
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT
        )
        base_url = f"http://{HOST}:{port}"
        try:
            _wait_until_up(base_url + ready_path, process, log_path)
            yield Server(base_url, process.pid, workdir)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def _wait_until_up(ready_url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited during start-up:\n{log_path.read_text()}")
        try:
            if httpx.get(ready_url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"the server did not start within {START_TIMEOUT:.0f} s")


def login(base_url: str, email: str = BENCH_EMAIL, password: str = BENCH_PASSWORD) -> str:
    """An access token for the user, from `POST /v1/auth/login`."""
    response = httpx.post(
        f"{base_url}/v1/auth/login", json={"email": email, "password": password}, timeout=30
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def get_json(base_url: str, path: str, headers: dict[str, str]) -> dict[str, object]:
    """A sanity request before a load run: the route must answer 200."""
    response = httpx.get(f"{base_url}{path}", headers=headers, timeout=30)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path}: {response.status_code} {response.text}")
    body: dict[str, object] = response.json()
    return body
