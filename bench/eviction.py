"""Cross-process revocation: under `tenantry serve --workers 2`, evict a member through one
worker process and at once send the member's request to the other; the other must answer 403,
never a stale 200 from its cached authorization (target: 0 stale 200s in 1,000 loops).

Each loop re-admits the member through the real invitation API first, so every eviction
revokes a grant the second worker has just cached."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx

from bench import summary
from bench.options import Options, parse
from bench.report import Table
from bench.server import BENCH_PASSWORD, Deployment, login, per_backend, running_server

ITERATIONS = 1000
MEMBER_EMAIL = "member@example.com"  # invitations validate addresses; .test is reserved
MAX_CONNECTION_TRIES = 40
# Every loop mails the member an invitation: far past the allowances, which are not measured.
INVITATION_ALLOWANCE = {
    "TENANTRY_INVITATION_MAIL_LIMIT": str(ITERATIONS + 1),
    "TENANTRY_TENANT_INVITATION_MAIL_LIMIT": str(ITERATIONS + 1),
}


@dataclass(frozen=True)
class Actor:
    """A user and the client pinned to one worker process that sends their requests."""

    client: httpx.Client
    headers: dict[str, str]


@dataclass(frozen=True)
class EvictionResult:
    iterations: int
    stale: int
    denied: int
    seconds: float
    instances: tuple[str, str]


def instance_of(client: httpx.Client) -> str:
    """Which server process serves this client's (single, kept-alive) connection."""
    response = client.get("/readyz")
    response.raise_for_status()
    instance: str = response.json()["instance"]
    return instance


@contextmanager
def clients_on_two_workers(base_url: str) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """Two one-connection clients whose connections landed on different worker processes."""
    with ExitStack() as stack:
        seen: dict[str, httpx.Client] = {}
        for _ in range(MAX_CONNECTION_TRIES):
            client = stack.enter_context(
                httpx.Client(base_url=base_url, timeout=30, limits=httpx.Limits(max_connections=1))
            )
            seen.setdefault(instance_of(client), client)
            if len(seen) == 2:
                first, second = seen.values()
                yield first, second
                return
        raise RuntimeError("every connection landed on the same worker: is --workers 2 set?")


def _checked(response: httpx.Response, status: int) -> httpx.Response:
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text}"
        )
    return response


def evict_and_probe(
    owner: Actor, member: Actor, *, member_id: str, member_email: str, loops: int
) -> EvictionResult:
    """`loops` times: admit the member, let the member's worker cache the grant, evict through
    the owner's worker, then probe through the member's worker."""
    instances = (instance_of(owner.client), instance_of(member.client))
    if instances[0] == instances[1]:
        raise RuntimeError("the owner and the member must be served by different workers")
    stale = denied = 0
    started = time.perf_counter()
    for _ in range(loops):
        invited = owner.client.post(
            "/v1/invitations",
            headers=owner.headers,
            json={"email": member_email, "role": "viewer"},
        )
        token = parse_qs(urlsplit(_checked(invited, 201).json()["accept_url"]).query)["token"][0]
        accept = member.client.post(
            "/v1/invitations/accept", headers=member.headers, json={"token": token}
        )
        _checked(accept, 200)
        _checked(member.client.get("/v1/tenant", headers=member.headers), 200)
        evicted = owner.client.delete(f"/v1/members/{member_id}", headers=owner.headers)
        _checked(evicted, 204)
        probe = member.client.get("/v1/tenant", headers=member.headers)
        if probe.status_code == 200:
            stale += 1
        elif probe.status_code == 403 and probe.json()["code"] == "tenant_access_denied":
            denied += 1
        else:
            _checked(probe, 403)
    seconds = time.perf_counter() - started
    if (instance_of(owner.client), instance_of(member.client)) != instances:
        raise RuntimeError("a connection was re-opened on another worker during the loops")
    return EvictionResult(loops, stale, denied, seconds, instances)


def measure(options: Options, table: Table, backend: str, target: Deployment) -> None:
    target.create_user()
    member_id = str(target.create_user(MEMBER_EMAIL, BENCH_PASSWORD))
    with (
        running_server(target, workers=2, settings=INVITATION_ALLOWANCE) as server,
        clients_on_two_workers(server.base_url) as (first, second),
    ):
        owner_auth = {"Authorization": f"Bearer {login(server.base_url)}"}
        organization = first.post("/v1/tenants", headers=owner_auth, json={"name": "Bench"})
        tenant_id = _checked(organization, 201).json()["id"]
        member_auth = {
            "Authorization": f"Bearer {login(server.base_url, MEMBER_EMAIL)}",
            "X-Tenant-ID": tenant_id,
        }
        result = evict_and_probe(
            Actor(first, {**owner_auth, "X-Tenant-ID": tenant_id}),
            Actor(second, member_auth),
            member_id=member_id,
            member_email=MEMBER_EMAIL,
            loops=ITERATIONS,
        )
    verdict = "met" if result.stale == 0 else "MISSED"
    summary.record(
        "eviction",
        f"stale 200s after a cross-worker eviction, {result.iterations:,} loops ({backend})",
        "0",
        str(result.stale),
        summary.MET if result.stale == 0 else summary.MISSED,
    )
    table.add(
        backend,
        result.iterations,
        f"{result.stale} ({verdict})",
        result.denied,
        1000 * result.seconds / result.iterations,
        " / ".join(result.instances),
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(__doc__ or "", argv)
    table = Table(
        "Eviction through one worker, request through the other (tenantry serve --workers 2)",
        ("backend", "loops", "stale 200s", "403s", "ms per loop", "owner / member worker"),
    )
    table.notes += [
        "a loop: invite (worker A), accept (worker B), GET /v1/tenant as the member (worker B, "
        "caches the grant), DELETE /v1/members/{id} (worker A), GET /v1/tenant as the member "
        "(worker B): a 200 there is stale",
        "each client holds one kept-alive connection; /readyz names the worker process behind it "
        "(checked before and after the loops)",
        "--workers is fixed at 2 for this benchmark",
    ]
    return per_backend(options, tag="eviction", table=table, measure=measure)


if __name__ == "__main__":
    sys.exit(main())
