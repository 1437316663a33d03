"""Clients that carry on across server crashes the way real ones do: a lost connection or a
503 is retried with the same request (its Idempotency-Key, its HubSpot eventId), a code that
never arrives is asked for again. Every answer a client acted on is written to a `Ledger`, so
a test can hold the database to what the server acknowledged."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from tenantry.domain.provider.hubspot import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_v3
from tests.support.api import INVITATION_TOKEN, PASSWORD, bearer
from tests.support.mailbox import CODE, Mailbox

RETRIED_STATUSES = frozenset({502, 503, 504})
RETRY_PAUSE_SECONDS = 0.1
# Long enough to outlast a burst of kills and restarts on a loaded machine.
PATIENCE_SECONDS = 60.0
# A mailed code that has not come by then may wait out the lease of a killed mail worker:
# the client asks for another one.
CODE_WAIT_SECONDS = 6.0
ROUNDS = 5


class GaveUp(Exception):
    """A journey could not finish for now (the server keeps a dead run's claim until its
    recovery sweep); it may be resumed later."""


@dataclass
class Ledger:
    """What the server acknowledged with a 2xx, and what no client should ever see."""

    confirmed: set[str] = field(default_factory=set)  # emails of confirmed accounts
    registrations: dict[str, str] = field(default_factory=dict)  # id -> tenant name
    completed_registrations: set[str] = field(default_factory=set)
    payments: dict[str, str] = field(default_factory=dict)  # eventId -> tenant id
    invitations: dict[str, str] = field(default_factory=dict)  # Idempotency-Key -> id
    memberships: set[tuple[str, str]] = field(default_factory=set)  # (tenant id, email)
    faults: list[str] = field(default_factory=list)  # 5xx answers and contradictions

    def note(self, response: httpx.Response) -> None:
        if response.status_code >= 500:
            self.faults.append(f"{response.request.url.path}: {response.text[:300]}")


@dataclass
class Api:
    http: httpx.AsyncClient
    ledger: Ledger

    async def send(self, method: str, path: str, **request: Any) -> httpx.Response:
        """The first answer that is not a lost connection or a 503 (sent again meanwhile)."""
        deadline = time.monotonic() + PATIENCE_SECONDS
        while True:
            try:
                response = await self.http.request(method, path, **request)
            except httpx.TransportError:
                response = None
            if response is not None:
                self.ledger.note(response)
                if response.status_code not in RETRIED_STATUSES:
                    return response
            if time.monotonic() > deadline:
                raise GaveUp(f"{method} {path}: no answer within {PATIENCE_SECONDS}s")
            await asyncio.sleep(RETRY_PAUSE_SECONDS)

    async def expect(self, status: int, method: str, path: str, **request: Any) -> Any:
        response = await self.send(method, path, **request)
        if response.status_code != status:
            raise AssertionError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None


async def fresh_code(mailbox: Mailbox, email: str, *, mailed_before: int) -> str | None:
    """The code of the newest mail to `email` past the first `mailed_before`, if one comes."""
    deadline = time.monotonic() + CODE_WAIT_SECONDS
    while time.monotonic() < deadline:
        mails = mailbox.messages(email)
        for mail in reversed(mails[mailed_before:]):
            if found := CODE.search(mail.text):
                return found.group(1)
        await asyncio.sleep(0.05)
    return None


def is_problem(response: httpx.Response, status: int, code: str) -> bool:
    return response.status_code == status and response.json().get("code") == code


@dataclass
class Onboarding:
    """Sign up and confirm with the mailed code, then join an organization by invitation."""

    email: str
    organization: str
    inviter_token: str
    access_token: str | None = None
    invitation_key: str = field(default_factory=lambda: str(uuid.uuid4()))
    invitation_token: str | None = None
    joined: bool = False

    async def run(self, api: Api, mailbox: Mailbox) -> None:
        if self.access_token is None:
            await self._confirm(api, mailbox)
        if self.invitation_token is None:
            await self._invite(api)
        if not self.joined:
            await self._accept(api)

    async def _confirm(self, api: Api, mailbox: Mailbox) -> None:
        account = {"email": self.email, "password": PASSWORD}
        for _round in range(ROUNDS):
            mailed = len(mailbox.messages(self.email))
            await api.expect(202, "POST", "/v1/auth/signup", json=account)
            code = await fresh_code(mailbox, self.email, mailed_before=mailed)
            if code is None:
                continue
            confirmed = await api.send(
                "POST", "/v1/auth/confirm", json={"email": self.email, "code": code}
            )
            if confirmed.status_code != 200:
                # Our own confirmation may have committed with its answer lost: sign in.
                confirmed = await api.send("POST", "/v1/auth/login", json=account)
            if confirmed.status_code == 200:
                api.ledger.confirmed.add(self.email)
                self.access_token = confirmed.json()["access_token"]
                return
        raise GaveUp(f"{self.email} never confirmed")

    async def _invite(self, api: Api) -> None:
        headers = {
            **bearer(self.inviter_token),
            "X-Tenant-ID": self.organization,
            "Idempotency-Key": self.invitation_key,
        }
        issued = await api.expect(
            201,
            "POST",
            "/v1/invitations",
            headers=headers,
            json={"email": self.email, "role": "editor"},
        )
        api.ledger.invitations[self.invitation_key] = issued["id"]
        found = INVITATION_TOKEN.search(issued["accept_url"])
        assert found, issued
        self.invitation_token = found.group(1)

    async def _accept(self, api: Api) -> None:
        assert self.access_token and self.invitation_token
        accepted = await api.send(
            "POST",
            "/v1/invitations/accept",
            headers=bearer(self.access_token),
            json={"token": self.invitation_token},
        )
        if accepted.status_code == 200:
            api.ledger.memberships.add((self.organization, self.email))
        elif not is_problem(accepted, 409, "invitation_accepted"):
            # A retried acceptance whose first try committed finds the invitation accepted.
            raise AssertionError(f"accept: {accepted.status_code} {accepted.text}")
        self.joined = True


@dataclass
class SelfServiceRegistration:
    """POST /v1/registrations, then confirm with the mailed code until it has completed."""

    email: str
    tenant_name: str
    registration_id: str | None = None
    mailed: int = 0

    async def run(self, api: Api, mailbox: Mailbox) -> None:
        if self.registration_id is None:
            self.mailed = len(mailbox.messages(self.email))
            created = await api.expect(
                202,
                "POST",
                "/v1/registrations",
                json={
                    "tenant_name": self.tenant_name,
                    "email": self.email,
                    "name": "Reg Istrant",
                    "password": PASSWORD,
                    "plan": "basic",
                },
            )
            self.registration_id = created["id"]
            api.ledger.registrations[created["id"]] = self.tenant_name
        for _round in range(ROUNDS):
            code = await fresh_code(mailbox, self.email, mailed_before=self.mailed)
            self.mailed = len(mailbox.messages(self.email))
            if code is not None:
                await api.send("POST", "/v1/auth/confirm", json={"email": self.email, "code": code})
                if await self._settled(api):
                    return
            # The code was lost, used by a confirmation whose answer was lost, or its
            # provisioning was cut short by a kill: confirming again completes it.
            await api.expect(202, "POST", "/v1/auth/email-code", json={"email": self.email})
        raise GaveUp(f"registration {self.registration_id} still pending")

    async def _settled(self, api: Api) -> bool:
        read = await api.expect(200, "GET", f"/v1/registrations/{self.registration_id}")
        if read["status"] == "completed":
            api.ledger.completed_registrations.add(read["id"])
        elif read["status"] == "failed":
            api.ledger.faults.append(f"registration failed: {read['failure_reason']}")
        return bool(read["status"] != "pending")


@dataclass
class HubspotPayment:
    """One payment event, delivered signed like HubSpot v3 (re-signed on each delivery, the
    same eventId and body) until it is answered 200."""

    event_id: str
    email: str
    company: str
    secret: str
    signed_url: str

    async def run(self, api: Api, _mailbox: Mailbox) -> None:
        body = json.dumps(
            {
                "eventId": self.event_id,
                "email": self.email,
                "plan": "standard",
                "firstname": "Pay",
                "lastname": "Er",
                "company": self.company,
            }
        ).encode()
        answered = await api.send(
            "POST", "/v1/webhooks/hubspot", content=body, headers=self._signed(body)
        )
        if is_problem(answered, 409, "webhook_in_progress"):
            # A killed run holds the event's claim until the recovery sweep undoes it: no
            # use asking again before (each ask waits 10 s for the dead run's answer).
            raise GaveUp(f"HubSpot event {self.event_id} still in progress")
        if answered.status_code != 200:
            raise AssertionError(f"hubspot: {answered.status_code} {answered.text}")
        self._acknowledged(api.ledger, answered.json()["tenant_id"])

    def _signed(self, body: bytes) -> dict[str, str]:
        timestamp = str(int(time.time() * 1000))
        signature = signature_v3(
            secret=self.secret, method="POST", uri=self.signed_url, body=body, timestamp=timestamp
        )
        return {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature,
            TIMESTAMP_HEADER: timestamp,
        }

    def _acknowledged(self, ledger: Ledger, tenant_id: str) -> None:
        earlier = ledger.payments.setdefault(self.event_id, tenant_id)
        if earlier != tenant_id:
            ledger.faults.append(f"event {self.event_id} answered {earlier} then {tenant_id}")
