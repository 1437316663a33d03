"""Schemathesis over /openapi.json (issue 9, fuzzing): every operation, with generated valid
and invalid input, as a signed-in owner of a tenant full of seeded objects, against a real
server process. No answer may be a 5xx, and every answer must be one the schema documents:
its status, its content type, its body."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tenantry.bootstrap import Container
from tenantry.settings import Settings
from tests.support.fuzz import FuzzRun, report, timed
from tests.support.mailbox import Mailbox
from tests.support.seeded import seed
from tests.support.server import running_server

pytestmark = pytest.mark.integration

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Per operation and generation mode (valid and invalid input): about 90 operations, so this
# is some 700 requests, 40-90 s on a loaded two-core machine.
MAX_EXAMPLES = 5


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """HubSpot configured, so that its webhook route is live rather than a 503."""
    return settings.model_copy(update={"hubspot_client_secret": "hubspot-client-secret"})


async def test_every_operation_answers_as_documented_without_server_errors(
    client: httpx.AsyncClient, mailbox: Mailbox, settings: Settings, container: Container
) -> None:
    seeded = await seed(client, mailbox)
    with running_server(settings) as base_url:
        schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
        run = FuzzRun(
            base_url=base_url,
            headers=seeded.headers,
            checks=CHECKS,
            max_examples=MAX_EXAMPLES,
            known_ids=seeded.ids,
        )
        # In a thread: the in-process container keeps its event loop while requests block.
        elapsed = await asyncio.to_thread(timed, lambda: run.fuzz(schema))
    print(f"fuzzed {run.cases} cases in {elapsed:.1f} s")
    assert not run.findings, report(run.findings)
