"""People and an organization most integration tests start from, registered through the API,
and a platform admin."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tenantry.bootstrap import Container
from tenantry.domain.provider.admins import ensure_platform_admin
from tests.support.api import (
    OPERATOR_EMAIL,
    OPERATOR_PASSWORD,
    Account,
    create_organization,
    register,
    sign_in,
)
from tests.support.clock import ShiftableClock
from tests.support.jwks_server import ExternalIssuer
from tests.support.mailbox import Mailbox


@pytest.fixture
async def ann(client: httpx.AsyncClient, mailbox: Mailbox) -> Account:
    return await register(client, mailbox, "ann@example.com", name="Ann")


@pytest.fixture
async def bob(client: httpx.AsyncClient, mailbox: Mailbox) -> Account:
    return await register(client, mailbox, "bob@example.com", name="Bob")


@pytest.fixture
async def carol(client: httpx.AsyncClient, mailbox: Mailbox) -> Account:
    return await register(client, mailbox, "carol@example.com", name="Carol")


@pytest.fixture
async def acme(client: httpx.AsyncClient, ann: Account) -> str:
    """An organization owned by Ann."""
    return await create_organization(client, ann, "Acme")


@pytest.fixture
async def operator(client: httpx.AsyncClient, container: Container) -> Account:
    """A platform admin, made the way `tenantry admin create` makes one, signed in."""
    await ensure_platform_admin(
        container.identity, email=OPERATOR_EMAIL, password=OPERATOR_PASSWORD
    )
    return await sign_in(client, OPERATOR_EMAIL, OPERATOR_PASSWORD)


@pytest.fixture
def idp(clock: ShiftableClock) -> Iterator[ExternalIssuer]:
    """A trusted external issuer's JWKS, served over real HTTP (test_federation*)."""
    issuer = ExternalIssuer(clock=clock)
    issuer.start()
    yield issuer
    issuer.stop()
