"""SPEC §3: an eviction applies to the very next request on every worker process. A server
with two worker processes; the owner's requests go to one, the member's to the other."""

from __future__ import annotations

import httpx
import pytest
from bench.eviction import Actor, clients_on_two_workers, evict_and_probe

from tenantry.bootstrap import Container
from tenantry.settings import Settings
from tests.support.api import bearer, register
from tests.support.mailbox import Mailbox
from tests.support.server import running_server

pytestmark = pytest.mark.integration

LOOPS = 25  # bench/eviction.py runs 1,000


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Every loop mails the member an invitation: more than the allowance per address."""
    return settings.model_copy(update={"invitation_mail_limit": LOOPS})


@pytest.mark.catalogue(23)
async def test_eviction_through_one_worker_is_enforced_by_the_other(
    container: Container, settings: Settings, mailbox: Mailbox
) -> None:
    with running_server(settings, workers=2) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            owner = await register(http, mailbox, "owner@example.com")
            member = await register(http, mailbox, "member@example.com")
            created = await http.post(
                "/v1/tenants", headers=bearer(owner.access_token), json={"name": "Acme"}
            )
            tenant_id = created.json()["id"]
        with clients_on_two_workers(base_url) as (first, second):
            result = evict_and_probe(
                Actor(first, owner.headers(tenant_id)),
                Actor(second, member.headers(tenant_id)),
                member_id=member.user_id,
                member_email=member.email,
                loops=LOOPS,
            )
    assert (result.stale, result.denied) == (0, LOOPS)
