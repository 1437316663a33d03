"""Problem details, health, readiness, metrics and OpenAPI (SPEC §3)."""

from __future__ import annotations

import gc

import httpx
import pytest

from tenantry.bootstrap import Container
from tenantry.settings import Settings
from tenantry.transports.rest.app import create_app
from tests.support.api import Account, bearer
from tests.support.routes import assert_problem

pytestmark = pytest.mark.integration


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = (await client.get("/readyz")).json()
    assert ready["status"] == "ready"
    assert len(ready["instance"]) == 12


async def test_metrics_are_prometheus_text(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'tenantry_http_requests_total{method="GET",route="/healthz",status="200"}' in (
        response.text
    )


async def test_openapi_and_docs_are_served(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "/v1/auth/signup" in spec["paths"]
    assert (await client.get("/docs")).status_code == 200


async def test_request_ids_are_echoed_or_made(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    made = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith junk"})
    assert echoed.headers["x-request-id"] == "abc-123"
    assert len(made.headers["x-request-id"]) == 32


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/nope", 404, "not_found"),
        ("DELETE", "/v1/auth/login", 405, "method_not_allowed"),
    ],
)
async def test_routing_errors_are_problems(
    client: httpx.AsyncClient, method: str, path: str, status: int, code: str
) -> None:
    response = await client.request(method, path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["status"], body["code"]) == (status, code)
    assert {"type", "title", "detail"} <= body.keys()


async def test_malformed_json_is_400_and_invalid_body_is_422(client: httpx.AsyncClient) -> None:
    broken = await client.post(
        "/v1/auth/login", content=b'{"email": ', headers={"content-type": "application/json"}
    )
    invalid = await client.post("/v1/auth/login", json={"email": 5})
    missing = await client.post("/v1/auth/signup", json={})
    assert (broken.status_code, broken.json()["code"]) == (400, "malformed_request")
    assert (invalid.status_code, invalid.json()["code"]) == (422, "validation_error")
    assert missing.status_code == 422
    assert {tuple(e["loc"]) for e in missing.json()["errors"]} >= {("body", "email")}


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "password": "long enough password"},
        {"email": "a@example.com", "password": ""},
        {"email": "a@" + "x" * 400 + ".com", "password": "long enough password"},
        {"email": ["a@example.com"], "password": "long enough password"},
        {"email": "a@example.com", "password": None},
    ],
)
async def test_bad_sign_up_input_is_never_a_500(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    response = await client.post("/v1/auth/signup", json=body)
    assert response.status_code == 422
    assert "Traceback" not in response.text


async def test_the_heap_alive_after_start_up_is_frozen(settings: Settings) -> None:
    """Full collections would otherwise walk it, a ~100 ms stop in the p99 (bench.collect)."""
    app = create_app(Container(settings), migrate=False, workers=False)
    gc.unfreeze()
    try:
        async with app.router.lifespan_context(app):
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


@pytest.mark.parametrize(
    ("content_type", "content"),
    [("text/plain", b'{"name": "Acme"}'), ("application/x-www-form-urlencoded", b"name=Acme")],
)
async def test_a_body_of_another_media_type_is_415(
    client: httpx.AsyncClient, ann: Account, content_type: str, content: bytes
) -> None:
    response = await client.post(
        "/v1/tenants",
        headers={**bearer(ann.access_token), "content-type": content_type},
        content=content,
    )
    assert_problem(response, 415, "unsupported_media_type")
    missing = await client.post("/v1/tenants", headers=bearer(ann.access_token))
    assert_problem(missing, 422, "validation_error")  # no body at all: what is missing
