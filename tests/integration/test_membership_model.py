"""A model-based test of tenant membership (SPEC §6, §7): hypothesis drives random sequences
of invite / accept / decline / role change / evict / leave by random actors against the API
and checks that every answer is the one a plain-Python model of the rules predicts, that the
member list equals the model's after every step (so the tenant keeps an owner), and that
outsiders, including anyone just removed, cannot read the tenant."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tenantry.bootstrap import Container
from tenantry.domain.accounts.roles import ROLE_RANK, may_grant
from tenantry.settings import Settings
from tenantry.transports.rest.app import create_app
from tests.support.api import Account, create_organization, register
from tests.support.clock import ShiftableClock
from tests.support.mailbox import Mailbox

pytestmark = pytest.mark.integration

T = TypeVar("T")
PEOPLE = 4
ROLES = sorted(ROLE_RANK)
person = st.integers(min_value=0, max_value=PEOPLE - 1)
role = st.sampled_from(ROLES)


class Loop:
    """The model test is synchronous (hypothesis drives it); the app runs on this loop."""

    def __init__(self) -> None:
        self._runner = asyncio.Runner()

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(work)

    def close(self) -> None:
        self._runner.close()


class World:
    """The app, its client and four registered people, shared by every hypothesis example."""

    def __init__(self, loop: Loop, settings: Settings, mailbox: Mailbox) -> None:
        self.loop = loop
        # Every example invites the same four addresses: far past the invitation mail
        # allowances, which test_invitations covers.
        unlimited = {"invitation_mail_limit": 100_000, "tenant_invitation_mail_limit": 100_000}
        self.container = Container(settings.model_copy(update=unlimited), clock=ShiftableClock())
        loop.run(self.container.start(migrate=False))
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(self.container)),
            base_url="http://testserver",
        )
        self.people: list[Account] = [
            loop.run(register(self.client, mailbox, f"p{index}@example.com"))
            for index in range(PEOPLE)
        ]

    def request(self, who: int, method: str, path: str, tenant: str, **kwargs: Any) -> Any:
        headers = self.people[who].headers(tenant)
        return self.loop.run(self.client.request(method, path, headers=headers, **kwargs))

    def close(self) -> None:
        self.loop.run(self.client.aclose())
        self.loop.run(self.container.stop())


@pytest.fixture
def world(settings: Settings, mailbox: Mailbox) -> Iterator[World]:
    loop = Loop()
    world = World(loop, settings, mailbox)
    yield world
    world.close()
    loop.close()


def expected(outcome: tuple[int, str | None], response: httpx.Response) -> None:
    status, code = outcome
    assert response.status_code == status, response.text
    if code is not None:
        assert response.json()["code"] == code


def membership_machine(world: World) -> type[RuleBasedStateMachine]:
    class Membership(RuleBasedStateMachine):
        """`members` maps person -> role; `pending` maps person -> (token, role, inviter)."""

        @initialize()
        def new_tenant(self) -> None:
            self.tenant = world.loop.run(
                create_organization(world.client, world.people[0], "Model Co")
            )
            self.members: dict[int, str] = {0: "owner"}
            self.pending: dict[int, tuple[str, str, int]] = {}
            self.revoked: dict[int, str] = {}  # person -> the token of a revoked invitation
            for outsider in range(1, PEOPLE):
                self.check_denied(outsider)

        def owners(self) -> int:
            return sum(1 for held in self.members.values() if held == "owner")

        def may(self, actor: int, minimum: str) -> bool:
            return ROLE_RANK[self.members[actor]] >= ROLE_RANK[minimum]

        def actor(self, data: st.DataObject) -> int:
            """Anyone, but a member half of the time: most requests that matter are theirs."""
            chosen: int = data.draw(st.sampled_from(sorted(self.members)) | person)
            return chosen

        @rule(data=st.data(), invitee=person, granted=role)
        def invite(self, data: st.DataObject, invitee: int, granted: str) -> None:
            actor = self.actor(data)
            response = world.request(
                actor,
                "POST",
                "/v1/invitations",
                self.tenant,
                json={"email": world.people[invitee].email, "role": granted},
            )
            if actor not in self.members:
                outcome: tuple[int, str | None] = (403, "tenant_access_denied")
            elif not self.may(actor, "owner" if granted == "owner" else "admin"):
                outcome = (403, "insufficient_role")
            elif invitee in self.members:
                outcome = (409, "already_member")
            elif invitee in self.pending:
                outcome = (409, "invitation_pending")
            else:
                outcome = (201, None)
                token = parse_qs(urlsplit(response.json()["accept_url"]).query)["token"][0]
                self.pending[invitee] = (token, granted, actor)
            expected(outcome, response)

        @precondition(lambda self: bool(self.pending))
        @rule(data=st.data(), accepting=st.booleans())
        def answer(self, data: st.DataObject, accepting: bool) -> None:
            invitee: int = data.draw(st.sampled_from(sorted(self.pending)))
            token, granted, _inviter = self.pending.pop(invitee)
            path = "/v1/invitations/accept" if accepting else "/v1/invitations/decline"
            response = world.loop.run(
                world.client.post(
                    path,
                    headers={"Authorization": f"Bearer {world.people[invitee].access_token}"},
                    json={"token": token},
                )
            )
            expected((200, None), response)
            if accepting:
                self.members[invitee] = granted

        @rule(data=st.data(), member=person, granted=role)
        def change_role(self, data: st.DataObject, member: int, granted: str) -> None:
            actor = self.actor(data)
            response = world.request(
                actor,
                "PATCH",
                f"/v1/members/{world.people[member].user_id}",
                self.tenant,
                json={"role": granted},
            )
            expected(self._role_change(actor, member, granted), response)
            self.revoke_beyond_grant(member)

        def _role_change(self, actor: int, member: int, granted: str) -> tuple[int, str | None]:
            if actor not in self.members:
                return 403, "tenant_access_denied"
            if not self.may(actor, "admin"):
                return 403, "insufficient_role"
            if member not in self.members:
                return 404, "member_not_found"
            previous = self.members[member]
            if previous == granted:
                return 200, None
            if "owner" in (previous, granted) and not self.may(actor, "owner"):
                return 403, "insufficient_role"
            if previous == "owner" and self.owners() == 1:
                return 409, "last_owner"
            self.members[member] = granted
            return 200, None

        @rule(data=st.data(), member=person)
        def remove(self, data: st.DataObject, member: int) -> None:
            actor = self.actor(data)
            response = world.request(
                actor, "DELETE", f"/v1/members/{world.people[member].user_id}", self.tenant
            )
            outcome = self._removal(actor, member)
            expected(outcome, response)
            if outcome[0] == 204:
                self.check_denied(member)
                self.revoke_beyond_grant(member)

        def revoke_beyond_grant(self, inviter: int) -> None:
            """A member's invitations go with their power to grant them (a removal, a
            demotion): accepting one afterwards is refused, and the address may be invited
            again."""
            held = self.members.get(inviter)
            for invitee, (_token, granted, by) in list(self.pending.items()):
                if by == inviter and not may_grant(held, granted):
                    self.revoked[invitee] = self.pending.pop(invitee)[0]

        @precondition(lambda self: bool(self.revoked))
        @rule(data=st.data())
        def accept_revoked(self, data: st.DataObject) -> None:
            invitee: int = data.draw(st.sampled_from(sorted(self.revoked)))
            token = self.revoked.pop(invitee)
            response = world.loop.run(
                world.client.post(
                    "/v1/invitations/accept",
                    headers={"Authorization": f"Bearer {world.people[invitee].access_token}"},
                    json={"token": token},
                )
            )
            expected((409, "invitation_revoked"), response)

        def _removal(self, actor: int, member: int) -> tuple[int, str | None]:
            if actor not in self.members:
                return 403, "tenant_access_denied"
            leaving = actor == member
            if not leaving and not self.may(actor, "admin"):
                return 403, "insufficient_role"
            if member not in self.members:
                return 404, "member_not_found"
            if self.members[member] == "owner":
                if not leaving and not self.may(actor, "owner"):
                    return 403, "insufficient_role"
                if self.owners() == 1:
                    return 409, "last_owner"
            del self.members[member]
            return 204, None

        @invariant()
        def members_match_the_model(self) -> None:
            reader = next(iter(self.members))
            listed = world.request(reader, "GET", "/v1/members?limit=200", self.tenant).json()
            by_id = {item["user_id"]: item["role"] for item in listed["items"]}
            assert by_id == {world.people[p].user_id: r for p, r in self.members.items()}
            assert "owner" in by_id.values()

        def check_denied(self, outsider: int) -> None:
            """The very next request of someone just removed is refused."""
            response = world.request(outsider, "GET", "/v1/tenant", self.tenant)
            expected((403, "tenant_access_denied"), response)

    return Membership


def test_membership_follows_the_model(world: World) -> None:
    run_state_machine_as_test(
        membership_machine(world),
        settings=settings(
            max_examples=40,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
