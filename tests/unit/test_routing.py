"""Routers that decline paths outside their prefix still route, 404 and 405 as FastAPI does."""

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from starlette.routing import Match

from tenantry.transports.rest.routing import PrefixedRouter

plain = PrefixedRouter(prefix="/v1/things")
nested = PrefixedRouter(prefix="/v1/projects/{project_id}/runs")


@plain.get("")
async def list_things() -> list[str]:
    return ["a"]


@plain.get("/{thing_id}")
async def read_thing(thing_id: str) -> str:
    return thing_id


@nested.post("")
async def start_run(project_id: str) -> str:
    return project_id


def client() -> httpx.AsyncClient:
    app = FastAPI()
    app.include_router(plain)
    app.include_router(nested)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_requests_reach_routes_behind_a_prefix_with_parameters() -> None:
    async with client() as http:
        assert (await http.get("/v1/things")).json() == ["a"]
        assert (await http.get("/v1/things/7")).json() == "7"
        assert (await http.post("/v1/projects/p1/runs")).json() == "p1"


async def test_unknown_paths_and_wrong_methods_answer_as_before() -> None:
    async with client() as http:
        assert (await http.get("/v1/other")).status_code == 404
        assert (await http.get("/v1/projects/p1/runs")).status_code == 405
        assert (await http.delete("/v1/things")).status_code == 405


def test_a_path_outside_the_prefix_is_declined_before_any_route_is_tried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def tried(*_args: object) -> None:
        raise AssertionError("the routes were tried")

    monkeypatch.setattr(APIRouter, "matches", tried)
    scope = {"type": "http", "path": "/v1/auth/refresh", "root_path": "", "method": "POST"}
    assert plain.matches(scope) == (Match.NONE, {})
    assert nested.matches({**scope, "path": "/v1/tenant"}) == (Match.NONE, {})
