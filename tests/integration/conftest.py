"""People and an organization most integration tests start from, registered through the API."""

from __future__ import annotations

import httpx
import pytest

from tests.support.api import Account, create_organization, register
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
