"""Schemathesis over the GraphQL schema (issue 9, fuzzing): generated queries and mutations,
valid and invalid, for every root field, as a signed-in owner with a tenant header, against a
real server process. Whatever is asked, the answer is a GraphQL response (HTTP 200, `data`
and/or `errors`) whose every error carries one of docs/graphql.md's `extensions.code`s, and
never a server error: neither a 5xx nor `INTERNAL_SERVER_ERROR`."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from schemathesis import Case, CheckContext, Response

from tenantry.bootstrap import Container
from tenantry.settings import Settings
from tests.support.api import Account
from tests.support.fuzz import FuzzRun, report, timed
from tests.support.mailbox import Mailbox
from tests.support.seeded import seed
from tests.support.server import running_server

pytestmark = pytest.mark.integration

# docs/graphql.md, "Errors"; INTERNAL_SERVER_ERROR is left out on purpose.
ERROR_CODES = {
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "NOT_FOUND",
    "BAD_USER_INPUT",
    "CONFLICT",
    "TOO_MANY_REQUESTS",
    "SERVICE_UNAVAILABLE",
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
}
# Per root field and generation mode: 13 fields, some 400 requests, 20-60 s.
MAX_EXAMPLES = 20


# A cycle of object fields (User.memberships -> Membership.tenant -> Tenant.members ->
# Membership.user -> User.memberships ...), each with a scalar of its own type beside it.
CYCLE = [("memberships", "role"), ("tenant", "name"), ("members", "role"), ("user", "name")]


def graphql_answer(_ctx: CheckContext, response: Response, _case: Case[Any]) -> None:
    """A GraphQL response (so no 5xx), its errors coded as the docs promise."""
    assert_graphql_answer(response.status_code, response.json(), response.text)


def assert_graphql_answer(status: int, body: Any, text: str) -> None:
    assert status == 200, f"HTTP {status}: {text[:500]}"
    assert isinstance(body, dict), body
    assert body.keys() & {"data", "errors"}, body
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        assert code in ERROR_CODES, f"error without a documented code: {error}"


async def test_every_root_field_answers_in_graphql_without_server_errors(
    client: httpx.AsyncClient, mailbox: Mailbox, settings: Settings, container: Container
) -> None:
    seeded = await seed(client, mailbox)
    with running_server(settings) as base_url:
        schema = schemathesis.graphql.from_url(f"{base_url}/graphql", headers=seeded.headers)
        run = FuzzRun(
            base_url=base_url,
            headers=seeded.headers,
            # Not schemathesis's `not_a_server_error`: on GraphQL it fails on any error at all,
            # a refused role or an unknown member included. `graphql_answer` refuses the 5xx.
            checks=[graphql_answer],
            max_examples=MAX_EXAMPLES,
        )
        # In a thread: the in-process container keeps its event loop while requests block.
        elapsed = await asyncio.to_thread(timed, lambda: run.fuzz(schema))
    print(f"fuzzed {run.cases} cases in {elapsed:.1f} s")
    assert run.cases > 0
    assert not run.findings, report(run.findings)


def nested(depth: int) -> str:
    """`me` and `depth` fields of the cycle below it."""
    selection = ""
    for field, scalar in reversed([CYCLE[level % len(CYCLE)] for level in range(depth)]):
        selection = f"{field} {{ {scalar} {selection} }}"
    return f"me {{ name {selection} }}"


@hypothesis.settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    depth=st.integers(0, 24),
    aliases=st.integers(0, 40),
    repeats=st.integers(0, 1_200),
    limit=st.integers(-5, 1_000),
)
async def test_queries_past_the_limits_get_graphql_errors(
    client: httpx.AsyncClient,
    ann: Account,
    acme: str,
    depth: int,
    aliases: int,
    repeats: int,
    limit: int,
) -> None:
    """Deep, wide, aliased and long documents around docs/graphql.md's limits (depth 8,
    15 aliases, 2,000 tokens, cost 10,000): a clean GraphQL answer either way."""
    query = " ".join(
        [
            nested(depth),
            *(f"a{n}: plans {{ id }}" for n in range(aliases)),
            f"members(limit: {limit}) {{ items {{ role user {{ name }} }} }}",
            "__typename " * repeats,
        ]
    )
    response = await client.post(
        "/graphql", headers=ann.headers(acme), json={"query": f"{{ {query} }}"}
    )
    assert_graphql_answer(response.status_code, response.json(), response.text)
