"""Properties of the credentials a client hands back (issue 9, fuzzing): access tokens in the
Authorization header, refresh tokens, mailed 6-digit codes and invitation tokens. Whatever
arrives in their place is refused with a 4xx problem, never a 5xx and never a success; and a
genuine one with a single character changed is refused like any other."""

from __future__ import annotations

import json
import string
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support.api import Account, bearer, mailed_invitation_token
from tests.support.mailbox import Mailbox

pytestmark = pytest.mark.integration

PROPERTY = settings(
    max_examples=60,
    deadline=None,
    database=None,
    # The fixtures (accounts, an invitation) are made once per test and reused by every
    # example on purpose: each example only sends a request that must be refused.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
# What a hostile client can put in a JSON string: any code point, lone surrogates included
# (as \\u escapes), control characters and NUL too.
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=600)
PRINTABLE = st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=600)
# What can reach the app in a header at all: uvicorn refuses CR, LF, NUL and the other
# control bytes but HTAB before the app sees them (RFC 9110 §5.5 field values).
HEADER_VALUE = st.binary(max_size=600).map(
    lambda raw: bytes(b for b in raw if b == 0x09 or 0x20 <= b != 0x7F).strip()
)
BASE64URL = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
# Characters to mutate into a token: the base64url alphabet and its neighbours.
REPLACEMENTS = st.characters(min_codepoint=0x21, max_codepoint=0x7E)


async def post_json(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], token: str | None = None
) -> httpx.Response:
    """POST `body` as ASCII-escaped JSON, so that lone surrogates travel as a client could
    send them (httpx's own encoder would refuse them)."""
    headers = {"Content-Type": "application/json", **(bearer(token) if token else {})}
    return await client.post(path, content=json.dumps(body).encode(), headers=headers)


def assert_refused(response: httpx.Response, *statuses: int) -> None:
    assert response.status_code in statuses, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"]


def mutated(token: str, index: int, replacement: str) -> str:
    return token[:index] + replacement + token[index + 1 :]


@pytest.fixture
async def carol_invited(
    client: httpx.AsyncClient, mailbox: Mailbox, ann: Account, carol: Account, acme: str
) -> str:
    """The token of a pending invitation of Carol to Acme."""
    created = await client.post(
        "/v1/invitations", headers=ann.headers(acme), json={"email": carol.email, "role": "viewer"}
    )
    assert created.status_code == 201, created.text
    return await mailed_invitation_token(mailbox, carol.email)


@PROPERTY
@given(value=HEADER_VALUE, token=PRINTABLE)
async def test_arbitrary_authorization_never_authenticates(
    client: httpx.AsyncClient, ann: Account, value: bytes, token: str
) -> None:
    raw = await client.get("/v1/me", headers=[(b"Authorization", value)])
    as_bearer = await client.get(
        "/v1/me", headers=[(b"Authorization", b"Bearer " + token.encode("utf-8", "replace"))]
    )
    assert_refused(raw, 401)
    assert_refused(as_bearer, 401)


@PROPERTY
@given(data=st.data())
# The signature's last character with only its spare low bits changed: the same bytes if
# base64 decoding were lenient.
@example(data=None)
async def test_a_changed_access_token_is_refused(
    client: httpx.AsyncClient, ann: Account, data: st.DataObject | None
) -> None:
    token = ann.access_token
    index = len(token) - 1
    replacement = BASE64URL[BASE64URL.index(token[index]) + 1]
    if data is not None:
        index = data.draw(st.integers(0, len(token) - 1))
        replacement = data.draw(REPLACEMENTS.filter(lambda char: char != token[index]))
    response = await client.get("/v1/me", headers=bearer(mutated(token, index, replacement)))
    assert_refused(response, 401)


@PROPERTY
@given(token=ANY_TEXT)
async def test_arbitrary_refresh_tokens_are_refused(
    client: httpx.AsyncClient, ann: Account, token: str
) -> None:
    assert_refused(await post_json(client, "/v1/auth/refresh", {"refresh_token": token}), 401, 422)
    logout = await post_json(client, "/v1/auth/logout", {"refresh_token": token})
    if logout.status_code != 204:  # unknown tokens are ignored
        assert_refused(logout, 422)
    assert (await client.get("/v1/me", headers=bearer(ann.access_token))).status_code == 200


@PROPERTY
@given(data=st.data())
async def test_a_changed_refresh_token_is_refused(
    client: httpx.AsyncClient, ann: Account, data: st.DataObject
) -> None:
    token = ann.refresh_token
    index = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(REPLACEMENTS.filter(lambda char: char != token[index]))
    changed = mutated(token, index, replacement)
    assert_refused(await post_json(client, "/v1/auth/refresh", {"refresh_token": changed}), 401)


@PROPERTY
@given(code=ANY_TEXT | st.from_regex(r"[0-9]{6}", fullmatch=True))
async def test_arbitrary_codes_never_confirm_or_reset(
    client: httpx.AsyncClient, mailbox: Mailbox, ann: Account, code: str
) -> None:
    signup = {"email": "dave@example.com", "password": "a long enough password", "name": "D"}
    if not mailbox.messages("dave@example.com"):
        assert (await client.post("/v1/auth/signup", json=signup)).status_code == 202
    confirm = await post_json(client, "/v1/auth/confirm", {"email": signup["email"], "code": code})
    reset = {"email": ann.email, "code": code, "password": "another long password"}
    # 400 invalid_code (wrong, or burned after the allowed tries), 422 a malformed body.
    assert_refused(confirm, 400, 422, 429)
    assert_refused(await post_json(client, "/v1/auth/password/reset", reset), 400, 422, 429)


@PROPERTY
@given(token=ANY_TEXT)
async def test_arbitrary_invitation_tokens_are_refused(
    client: httpx.AsyncClient, carol: Account, carol_invited: str, token: str
) -> None:
    body = {"token": token}
    assert_refused(
        await post_json(client, "/v1/invitations/accept", body, carol.access_token), 404, 422
    )
    assert_refused(
        await post_json(client, "/v1/invitations/decline", body, carol.access_token), 404, 422
    )
    if any(0xD800 <= ord(char) <= 0xDFFF for char in token):
        return  # a lone surrogate cannot be put in a URL
    preview = await client.get("/v1/invitations/preview", params={"token": token})
    assert_refused(preview, 404, 422)


@PROPERTY
@given(data=st.data())
async def test_a_changed_invitation_token_is_refused(
    client: httpx.AsyncClient, carol: Account, carol_invited: str, data: st.DataObject
) -> None:
    token = carol_invited
    index = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(REPLACEMENTS.filter(lambda char: char != token[index]))
    changed = {"token": mutated(token, index, replacement)}
    assert_refused(await client.get("/v1/invitations/preview", params=changed), 404, 422)
    accept = await post_json(client, "/v1/invitations/accept", changed, carol.access_token)
    assert_refused(accept, 404, 422)
