"""Outgoing webhooks: delivery throughput (events/s to a local receiver) and latency from
commit to delivery (p50/p99), under `tenantry serve --workers 1` and then `--workers 2`, with
the ratios 2 workers / 1 worker.

One platform endpoint (`POST /v1/admin/webhook-endpoints`, every tenant's `tenant.updated`)
points at an HTTP/1.1 receiver in this process. Throughput ("backlog"): 2,500 events over 100
tenants inserted straight into the outbox in one transaction, timed from the first to the last
arrival. Latency ("steady"): `PATCH /v1/tenant` renames through the API at about 50/s for
--duration seconds, each event's payload `timestamp` (its `created_at`, taken in the committing
transaction) to its arrival. Every run checks that each event arrived exactly once."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import httpx
from sqlalchemy import Engine, create_engine, delete, func, insert, or_, select
from sqlalchemy.pool import NullPool

from bench import summary, wrk
from bench.databases import with_driver
from bench.options import Options, parse
from bench.report import Table
from bench.server import HOST, Deployment, Server, get_json, login, per_backend, running_server
from tenantry.storage.models import DomainEvent, WebhookAttempt, WebhookDelivery

WORKERS = (1, 2)
EVENT_TYPE = "tenant.updated"
BACKLOG = 2500
BACKLOG_TENANTS = 100
STEADY_RATE = 50  # events/s offered through the API in the latency run
STEADY_TENANTS = 8
STEADY_CONNECTIONS = 4
WARMUP_SECONDS = 1.0
STALL_SECONDS = 15.0  # no new arrival for this long: the rest counts as missing
SETTLE_SECONDS = 1.0  # waited after the last expected arrival, for late duplicates
POLL_SECONDS = 0.02
IN_FLIGHT_SECONDS = 0.5  # after wrk stops, for the requests it cut off to commit
DISPATCHER_ERRORS = ("webhook_dispatch_failed", "webhook_result_not_recorded")
RESPONSE = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
COLUMNS = (
    "backend",
    "workers",
    "run",
    "events",
    "duplicates",
    "missing",
    "failed attempts",
    "events/s",
    "p50 ms",
    "p99 ms",
    "server CPU ms/event",
    "2w / 1w",
)


@dataclass(frozen=True)
class Arrival:
    at: float  # wall clock (time.time()) when the request's head had been read
    message_id: str  # the `webhook-id` header
    body: bytes


class Receiver:
    """A minimal HTTP/1.1 keep-alive server on its own thread and event loop: every request
    gets an empty 200 and is recorded (arrival time, `webhook-id`, body, parsed later), so
    the benchmark's other work never delays an arrival's timestamp by more than the GIL."""

    def __init__(self) -> None:
        self.port = 0
        self._arrivals: list[Arrival] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the webhook receiver did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/hooks"

    def count(self) -> int:
        return len(self._arrivals)

    def since(self, start: int) -> list[Arrival]:
        with self._lock:
            return self._arrivals[start:]

    def take(self) -> list[Arrival]:
        """Everything recorded so far; the record starts empty again."""
        with self._lock:
            taken, self._arrivals = self._arrivals, []
        return taken

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._connection, HOST, 0, backlog=1024)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop.wait()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                at = time.time()
                length, message_id = 0, ""
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"webhook-id":
                        message_id = value.strip().decode()
                body = await reader.readexactly(length) if length else b""
                with self._lock:
                    self._arrivals.append(Arrival(at, message_id, body))
                writer.write(RESPONSE)
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()


def receiver_capacity(receiver: Receiver, workdir: Path) -> float:
    """Requests/s the receiver answers from wrk at 32 connections (1 s), with a body and
    headers like a delivery's."""
    body = json.dumps(
        {"type": EVENT_TYPE, "timestamp": "2026-11-22T00:00:00.000000Z", "data": {"name": "x"}}
    )
    script = wrk.static_request("POST", body, {"webhook-id": "msg_capacity"})
    result = wrk.run(receiver.url, script_text=script, workdir=workdir, duration=1, connections=32)
    receiver.take()
    return result.rate


@dataclass(frozen=True)
class PrivateTargets(Deployment):
    """Deliveries to loopback allowed: the receiver is on 127.0.0.1."""

    def environment(self) -> dict[str, str]:
        return {**super().environment(), "TENANTRY_WEBHOOK_ALLOW_PRIVATE": "true"}


@dataclass(frozen=True)
class Run:
    workers: int
    kind: str  # "backlog" or "steady"
    events: int  # expected arrivals
    arrived: int  # distinct expected events that arrived
    duplicates: int
    failed_attempts: int
    rate: float  # backlog: first to last arrival; steady: arrivals over the load's duration
    cpu_ms: float  # server CPU per expected event
    latencies_ms: list[float] = field(default_factory=list)
    first_s: float = 0.0  # commit to first arrival (backlog)
    last_s: float = 0.0  # commit to last arrival (backlog)

    def percentile_ms(self, share: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


@contextmanager
def outbox(database_url: str) -> Iterator[Engine]:
    """A synchronous engine on the deployment's database, for the backlog and clean-ups."""
    if database_url.startswith("postgresql"):
        engine = create_engine(with_driver(database_url, "postgresql+psycopg"), poolclass=NullPool)
    else:
        engine = create_engine(database_url, poolclass=NullPool, connect_args={"timeout": 30})
    try:
        yield engine
    finally:
        engine.dispose()


def purge(engine: Engine) -> None:
    """Empty the outbox and the delivery tables, so every run starts from the same state."""
    with engine.begin() as connection:
        connection.execute(delete(WebhookAttempt))
        connection.execute(delete(WebhookDelivery))
        connection.execute(delete(DomainEvent))


def insert_backlog(engine: Engine) -> set[str]:
    """`BACKLOG` undispatched events over `BACKLOG_TENANTS` tenants, committed at once; the
    `webhook-id`s they will be delivered with."""
    tenants = [uuid.uuid4() for _ in range(BACKLOG_TENANTS)]
    ids = [uuid.uuid4() for _ in range(BACKLOG)]
    now = datetime.now(UTC)
    rows = [
        {
            "id": event_id,
            "type": EVENT_TYPE,
            "tenant_id": tenants[number % BACKLOG_TENANTS],
            "actor_id": None,
            "data": {"name": f"Backlog {number}"},
            "created_at": now + timedelta(microseconds=number),
            "position": 0,
            "dispatched_at": None,
        }
        for number, event_id in enumerate(ids)
    ]
    with engine.begin() as connection:
        connection.execute(insert(DomainEvent), rows)
    return {f"msg_{event_id.hex}" for event_id in ids}


def failed_attempts(engine: Engine) -> int:
    with engine.connect() as connection:
        failed = connection.scalar(
            select(func.count())
            .select_from(WebhookAttempt)
            .where(or_(WebhookAttempt.status_code.is_(None), WebhookAttempt.status_code >= 300))
        )
    return int(failed or 0)


def wait_for(receiver: Receiver, ours: Callable[[Arrival], bool], count: int) -> list[Arrival]:
    """Our arrivals (duplicates included) once `count` distinct ones are in and no duplicate
    followed within `SETTLE_SECONDS`, or once nothing new arrived for `STALL_SECONDS`."""
    mine: list[Arrival] = []
    seen: set[str] = set()
    read = 0
    last_news = time.monotonic()
    complete_at: float | None = None
    while True:
        fresh = receiver.since(read)
        read += len(fresh)
        now = time.monotonic()
        if fresh:
            last_news = now
        for arrival in fresh:
            if ours(arrival):
                mine.append(arrival)
                seen.add(arrival.message_id)
        if complete_at is None and len(seen) >= count:
            complete_at = now
        if complete_at is not None and now - complete_at >= SETTLE_SECONDS:
            return mine
        if now - last_news >= STALL_SECONDS:
            return mine
        time.sleep(POLL_SECONDS)


def committed_at(arrival: Arrival) -> float:
    """The payload `timestamp` (RFC 3339) as a wall-clock time."""
    return datetime.fromisoformat(json.loads(arrival.body)["timestamp"]).timestamp()


def firsts(arrivals: list[Arrival]) -> dict[str, Arrival]:
    """The first arrival of each `webhook-id`."""
    first: dict[str, Arrival] = {}
    for arrival in sorted(arrivals, key=lambda arrival: arrival.at):
        first.setdefault(arrival.message_id, arrival)
    return first


def run_backlog(server: Server, engine: Engine, receiver: Receiver, workers: int) -> Run:
    receiver.take()
    cpu_before = server.cpu_seconds()
    expected = insert_backlog(engine)
    committed = time.time()
    arrivals = wait_for(receiver, lambda arrival: arrival.message_id in expected, len(expected))
    cpu = server.cpu_seconds() - cpu_before
    first = firsts(arrivals)
    times = sorted(arrival.at for arrival in first.values())
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    return Run(
        workers=workers,
        kind="backlog",
        events=len(expected),
        arrived=len(first),
        duplicates=len(arrivals) - len(first),
        failed_attempts=failed_attempts(engine),
        rate=(len(times) - 1) / span if span else 0.0,
        cpu_ms=1000 * cpu / len(expected),
        first_s=times[0] - committed if times else 0.0,
        last_s=times[-1] - committed if times else 0.0,
    )


def renames(token: str, tenants: Sequence[str]) -> str:
    """A wrk script renaming `tenants` in turn through `PATCH /v1/tenant`, each connection
    pausing a random 0..2x mean delay so that together they offer about `STEADY_RATE`/s."""
    tenant_table = ", ".join(wrk.lua_string(tenant) for tenant in tenants)
    mean_delay_ms = round(1000 * STEADY_CONNECTIONS / STEADY_RATE)
    return f"""
local tenants = {{ {tenant_table} }}
local sent = 0
function request()
  sent = sent + 1
  local headers = {{
    ["Authorization"] = {wrk.lua_string(f"Bearer {token}")},
    ["Content-Type"] = "application/json",
    ["X-Tenant-ID"] = tenants[sent % #tenants + 1],
  }}
  return wrk.format("PATCH", "/v1/tenant", headers, '{{"name":"Renamed ' .. sent .. '"}}')
end
function delay()
  return math.random(0, {2 * mean_delay_ms})
end
"""


def run_steady(
    server: Server,
    engine: Engine,
    receiver: Receiver,
    *,
    workers: int,
    script: str,
    seconds: float,
) -> Run:
    receiver.take()
    cpu_before = server.cpu_seconds()
    load = wrk.run(
        f"{server.base_url}/v1/tenant",
        script_text=script,
        workdir=server.workdir,
        duration=seconds,
        connections=STEADY_CONNECTIONS,
    )
    if not load.clean:
        raise RuntimeError(f"PATCH /v1/tenant under load: {load.errors()}")
    time.sleep(IN_FLIGHT_SECONDS)
    expected = committed_events(engine)  # wrk does not count the requests cut off at its end
    arrivals = wait_for(receiver, lambda arrival: arrival.message_id in expected, len(expected))
    cpu = server.cpu_seconds() - cpu_before
    first = firsts(arrivals)
    return Run(
        workers=workers,
        kind="steady",
        events=len(expected),
        arrived=len(first),
        duplicates=len(arrivals) - len(first),
        failed_attempts=failed_attempts(engine),
        rate=len(first) / load.seconds,
        cpu_ms=1000 * cpu / max(len(expected), 1),
        latencies_ms=[1000 * (arrival.at - committed_at(arrival)) for arrival in first.values()],
    )


def committed_events(engine: Engine) -> set[str]:
    """The `webhook-id`s of the events in the outbox (emptied before the run)."""
    with engine.connect() as connection:
        ids = connection.scalars(select(DomainEvent.id).where(DomainEvent.type == EVENT_TYPE))
        return {f"msg_{event_id.hex}" for event_id in ids}


def _post(base_url: str, path: str, headers: dict[str, str], body: object) -> dict[str, object]:
    response = httpx.post(f"{base_url}{path}", headers=headers, json=body, timeout=60)
    if response.status_code != 201:
        raise RuntimeError(f"POST {path}: {response.status_code} {response.text}")
    created: dict[str, object] = response.json()
    return created


def set_up(server: Server, receiver: Receiver) -> tuple[str, list[str]]:
    """A platform endpoint for every tenant's `tenant.updated`, and `STEADY_TENANTS`
    organizations the bench user owns; (token, tenant ids)."""
    token = login(server.base_url)
    auth = {"Authorization": f"Bearer {token}"}
    get_json(server.base_url, "/v1/me", auth)
    endpoint = {"url": receiver.url, "events": [EVENT_TYPE]}
    _post(server.base_url, "/v1/admin/webhook-endpoints", auth, endpoint)
    tenants = [
        str(_post(server.base_url, "/v1/tenants", auth, {"name": f"Renamed {number}"})["id"])
        for number in range(STEADY_TENANTS)
    ]
    return token, tenants


def dispatcher_errors(server: Server) -> int:
    port = server.base_url.rsplit(":", 1)[1]
    log = (server.workdir / f"server-{port}.log").read_text(errors="replace")
    return sum(log.count(marker) for marker in DISPATCHER_ERRORS)


def measure(
    options: Options, table: Table, backend: str, target: Deployment, *, receiver: Receiver
) -> None:
    target = PrivateTargets(target.database_url, target.data_dir)
    target.create_user()  # a platform admin, as `tenantry admin create` makes
    runs: list[Run] = []
    tenants: list[str]
    with outbox(target.database_url) as engine:
        token, tenants = "", []
        for workers in WORKERS:
            with running_server(target, workers=workers) as server:
                if not tenants:
                    token, tenants = set_up(server, receiver)
                script = renames(token, tenants)
                # Unmeasured: pools, statement caches, the sender's connections warm.
                run_steady(
                    server,
                    engine,
                    receiver,
                    workers=workers,
                    script=script,
                    seconds=WARMUP_SECONDS,
                )
                purge(engine)
                runs.append(run_backlog(server, engine, receiver, workers))
                purge(engine)
                runs.append(
                    run_steady(
                        server,
                        engine,
                        receiver,
                        workers=workers,
                        script=script,
                        seconds=options.duration,
                    )
                )
                purge(engine)
                errors = dispatcher_errors(server)
                if errors:
                    table.notes.append(
                        f"{backend}, {workers} worker(s): {errors} dispatcher errors in the "
                        "server log"
                    )
    _report(table, backend, runs)


def _report(table: Table, backend: str, runs: list[Run]) -> None:
    single = {run.kind: run for run in runs if run.workers == 1}
    for run in runs:
        steady = run.kind == "steady"
        ratio = ""
        base = single[run.kind]
        if run.workers != 1 and run.arrived and base.arrived:
            if steady:
                ratio = (
                    f"p50 {run.percentile_ms(0.5) / base.percentile_ms(0.5):.2f}, "
                    f"p99 {run.percentile_ms(0.99) / base.percentile_ms(0.99):.2f}"
                )
            else:
                ratio = f"{run.rate / base.rate:.2f}"
                summary.record(
                    "webhooks",
                    f"backlog delivery events/s, {run.workers} workers / 1 worker ({backend})",
                    "report",
                    f"{ratio} ({base.rate:,.0f} -> {run.rate:,.0f}/s)",
                    summary.REPORTED,
                )
        if steady and run.workers == 1 and run.arrived:
            summary.record(
                "webhooks",
                f"commit-to-arrival p50 / p99, 1 worker ({backend})",
                "report",
                f"{run.percentile_ms(0.5):.1f} / {run.percentile_ms(0.99):.1f} ms",
                summary.REPORTED,
            )
        table.add(
            backend,
            run.workers,
            run.kind,
            run.events,
            run.duplicates,
            run.events - run.arrived,
            run.failed_attempts,
            run.rate,
            run.percentile_ms(0.5) if steady else "-",
            run.percentile_ms(0.99) if steady else "-",
            run.cpu_ms,
            ratio,
        )
        if not steady:
            table.notes.append(
                f"{backend}, {run.workers} worker(s), backlog: first arrival "
                f"{run.first_s:.2f} s after the commit, last {run.last_s:.1f} s"
            )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(__doc__ or "", argv)
    table = Table("Webhook delivery: backlog throughput and commit-to-arrival latency", COLUMNS)
    table.notes += [
        f"backlog: {BACKLOG:,} `{EVENT_TYPE}` events over {BACKLOG_TENANTS} tenants inserted "
        "into `domain_events` in one transaction (undispatched); events/s = distinct events / "
        "(last arrival - first arrival); server CPU covers commit to last arrival",
        f"steady: `PATCH /v1/tenant` renames of {STEADY_TENANTS} tenants by wrk "
        f"(-c{STEADY_CONNECTIONS}, random pauses for about {STEADY_RATE}/s) for --duration; "
        "latency = arrival (receiver clock) - payload `timestamp` (same machine); "
        "events/s = arrivals / load duration; server CPU covers the requests and deliveries",
        "duplicates = arrivals beyond the first per `webhook-id`; missing = events that never "
        f"arrived ({STALL_SECONDS:.0f} s without an arrival ends a run); failed attempts = "
        "`webhook_attempts` rows without a 2xx",
        "each server is warmed up with 1 s of steady load; the outbox and delivery tables are "
        "emptied before each run; 2w / 1w: events/s for the backlog, latencies for steady",
        "latency includes the API transaction's own commit (`created_at` is taken inside it) "
        "and the dispatcher's two transactions before the send (fan-out, lease)",
    ]
    with Receiver() as receiver, tempfile.TemporaryDirectory(prefix="tenantry-bench-") as tmp:
        capacity = receiver_capacity(receiver, Path(tmp))
        table.notes.append(
            "receiver: asyncio HTTP/1.1 keep-alive server on its own thread in the bench "
            f"process, answering 200 with an empty body; capacity {capacity:,.0f} req/s "
            "(wrk -t1 -c32 for 1 s just before the runs)"
        )
        return per_backend(
            options, tag="webhooks", table=table, measure=partial(measure, receiver=receiver)
        )


if __name__ == "__main__":
    sys.exit(main())
