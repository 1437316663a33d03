"""The soak's mixed traffic: virtual users, each repeating one cycle through the public API the
way applications and people use it, every request timed and checked against the status it must
answer.

A cycle: a newcomer signs up and confirms with the code mailed to the soak's SMTP server
(a session), reads who they are, creates an organization, invites the previous cycle's newcomer,
who signs in with their password, accepts the mailed invitation, reads the organization
(GET /v1/tenant, /v1/members with X-Tenant-ID: the tenant-checked reads), refreshes and logs out,
or, every `ABANDON_EVERY`-th time, leaves the session to expire; then the newcomer reads the
organization, refreshes, logs out, signs in on the web pages (a web session), looks at the
account page and signs out (or, every `ABANDON_EVERY`-th time, closes the browser), and
mistypes their password once (a lockout window)."""

from __future__ import annotations

import asyncio
import itertools
import math
import re
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import httpx
from tests.support.api import bearer, mailed_invitation_token
from tests.support.mailbox import Mailbox

from tenantry.transports.cli.listener_options import KEEP_ALIVE_SECONDS

DOMAIN = "soak.example"  # email-validator refuses the special-use .test domain
PASSWORD = "a soak password of some length 9"
WRONG_PASSWORD = "not the soak password at all 0"
ABANDON_EVERY = 4
REQUEST_TIMEOUT = 30.0
MAIL_TIMEOUT = 30.0
FAILURES_KEPT = 20
# Idle connections close sooner than the server closes them: reusing one the server is closing
# fails the request (the race listener_options.py warns a load balancer about).
CLIENT_KEEP_ALIVE = KEEP_ALIVE_SECONDS / 2
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Stop(Exception):
    """The soak's time is up: the virtual user ends, mid-cycle."""


class Failed(Exception):
    """A request answered unexpectedly (already counted): the cycle is abandoned."""


@dataclass
class Interval:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0


@dataclass
class Traffic:
    """What the virtual users did, per interval of the run."""

    interval: float
    duration: float
    started: float = field(default_factory=time.monotonic)
    intervals: list[Interval] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    sessions_opened: int = 0

    def __post_init__(self) -> None:
        self.intervals = [Interval() for _ in range(math.ceil(self.duration / self.interval))]

    def ends(self) -> list[float]:
        """When each interval ends, in seconds since the start."""
        return [
            min((index + 1) * self.interval, self.duration) for index in range(len(self.intervals))
        ]

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def record(self, began: float, *, failure: str | None) -> None:
        """A request that began at `began` has ended (with `failure`, or as expected)."""
        self._at(began).latencies_ms.append(1000 * (time.monotonic() - began))
        if failure is not None:
            self.fail(failure, began=began)

    def fail(self, failure: str, *, began: float) -> None:
        self._at(began).errors += 1
        if len(self.failures) < FAILURES_KEPT:
            self.failures.append(f"{self.elapsed():.0f} s: {failure}")

    def _at(self, began: float) -> Interval:
        # Work still in flight when the run ends counts in the last interval.
        index = min(int((began - self.started) / self.interval), len(self.intervals) - 1)
        return self.intervals[index]

    @property
    def errors(self) -> int:
        return sum(interval.errors for interval in self.intervals)


@dataclass(frozen=True)
class Tokens:
    access: str
    refresh: str

    def headers(self, tenant_id: str) -> dict[str, str]:
        return {**bearer(self.access), "X-Tenant-ID": tenant_id}


@dataclass
class VirtualUser:
    name: str
    http: httpx.AsyncClient
    mailbox: Mailbox
    traffic: Traffic
    counter: itertools.count[int] = field(default_factory=itertools.count)

    async def run(self) -> None:
        previous: str | None = None
        while True:
            try:
                previous = await self.cycle(previous)
            except Failed:
                previous = None
            except Stop:
                return

    async def cycle(self, previous: str | None) -> str:
        """One round of traffic; returns the newcomer, whom the next round invites."""
        number = next(self.counter)
        email = f"{self.name}-{number}@{DOMAIN}"
        tokens = await self.sign_up(email)
        await self.call("GET", "/v1/me", 200, headers=bearer(tokens.access))
        created = await self.call(
            "POST", "/v1/tenants", 201, headers=bearer(tokens.access), json={"name": email}
        )
        org: str = created.json()["id"]
        if previous is not None:
            await self.invite(tokens, org, previous, abandon=number % ABANDON_EVERY == 0)
        await self.read(tokens, org)
        tokens = await self.refresh(tokens)
        await self.call("POST", "/v1/auth/logout", 204, json={"refresh_token": tokens.refresh})
        await self.browse(email, abandon=number % ABANDON_EVERY == 1)
        await self.call(
            "POST", "/v1/auth/login", 401, json={"email": email, "password": WRONG_PASSWORD}
        )
        return email

    async def sign_up(self, email: str) -> Tokens:
        await self.call("POST", "/v1/auth/signup", 202, json={"email": email, "password": PASSWORD})
        code = await self.mail(self.mailbox.code_for(email, within=MAIL_TIMEOUT), email)
        confirmed = await self.call(
            "POST", "/v1/auth/confirm", 200, json={"email": email, "code": code}
        )
        return self.opened(confirmed)

    async def invite(self, inviter: Tokens, org: str, email: str, *, abandon: bool) -> None:
        """`email` joins `org` by invitation, works in it, and leaves or abandons the session."""
        await self.call(
            "POST",
            "/v1/invitations",
            201,
            headers=inviter.headers(org),
            json={"email": email, "role": "viewer"},
        )
        token = await self.mail(
            mailed_invitation_token(self.mailbox, email, within=MAIL_TIMEOUT), email
        )
        signed_in = await self.call(
            "POST", "/v1/auth/login", 200, json={"email": email, "password": PASSWORD}
        )
        member = self.opened(signed_in)
        await self.call(
            "POST",
            "/v1/invitations/accept",
            200,
            headers=bearer(member.access),
            json={"token": token},
        )
        await self.read(member, org)
        member = await self.refresh(member)
        if not abandon:
            await self.call("POST", "/v1/auth/logout", 204, json={"refresh_token": member.refresh})

    async def browse(self, email: str, *, abandon: bool) -> None:
        """Sign in on the web pages in a browser of its own (cookies), look at the account page,
        and sign out or close the browser."""
        async with client(self.http.base_url, connections=1) as web:
            entry = await self.call("GET", "/login", 200, via=web)
            form = {"csrf_token": self.csrf(entry), "email": email, "password": PASSWORD}
            await self.call("POST", "/login/password", 303, via=web, data=form)
            self.traffic.sessions_opened += 1
            account = await self.call("GET", "/app/account", 200, via=web)
            if not abandon:
                await self.call(
                    "POST", "/logout", 303, via=web, data={"csrf_token": self.csrf(account)}
                )

    async def read(self, tokens: Tokens, org: str) -> None:
        await self.call("GET", "/v1/tenant", 200, headers=tokens.headers(org))
        await self.call("GET", "/v1/members", 200, headers=tokens.headers(org))

    async def refresh(self, tokens: Tokens) -> Tokens:
        response = await self.call(
            "POST", "/v1/auth/refresh", 200, json={"refresh_token": tokens.refresh}
        )
        return tokens_of(response)

    def csrf(self, page: httpx.Response) -> str:
        """The CSRF token of a form `page`; a page without one is an error."""
        found = CSRF.search(page.text)
        if found is None:
            self.traffic.fail(f"no CSRF token on {page.url}", began=time.monotonic())
            raise Failed
        return found.group(1)

    def opened(self, response: httpx.Response) -> Tokens:
        self.traffic.sessions_opened += 1
        return tokens_of(response)

    async def mail(self, arrival: Awaitable[str], email: str) -> str:
        """The code or token `arrival` (a Mailbox wait) yields; no mail is an error."""
        began = time.monotonic()
        try:
            return await arrival
        except AssertionError as error:  # Mailbox's way of saying none came
            self.traffic.fail(f"no mail to {email}: {error}", began=began)
            raise Failed from error

    async def call(
        self,
        method: str,
        path: str,
        expect: int,
        *,
        via: httpx.AsyncClient | None = None,
        **request: Any,
    ) -> httpx.Response:
        """`method path` through `via` (default: the API client), which must answer `expect`."""
        if self.traffic.elapsed() >= self.traffic.duration:
            raise Stop
        began = time.monotonic()
        try:
            response = await (via or self.http).request(method, path, **request)
        except httpx.HTTPError as error:
            self.traffic.record(began, failure=f"{method} {path}: {error!r}")
            raise Failed from error
        if response.status_code != expect:
            failure = f"{method} {path}: {response.status_code} {response.text[:200]}"
            self.traffic.record(began, failure=failure)
            raise Failed
        self.traffic.record(began, failure=None)
        return response


def client(base_url: str | httpx.URL, *, connections: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, keepalive_expiry=CLIENT_KEEP_ALIVE)
    return httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT, limits=limits)


def tokens_of(response: httpx.Response) -> Tokens:
    body = response.json()
    return Tokens(access=body["access_token"], refresh=body["refresh_token"])


async def drive(base_url: str, mailbox: Mailbox, traffic: Traffic, *, users: int) -> None:
    """`users` virtual users until the traffic's duration is over."""
    async with client(base_url, connections=users) as http:
        tag = f"soak{int(time.time())}"
        await asyncio.gather(
            *(VirtualUser(f"{tag}u{index}", http, mailbox, traffic).run() for index in range(users))
        )
