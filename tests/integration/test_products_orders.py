"""`/v1/products` and `/v1/orders` (SPEC §10) on the storage router, for pool and silo tenants
side by side: viewers read, editors write; nothing of another tenant is ever seen, changed or
ordered; totals are the server's; writes answer 409 while the tenant's data moves."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tenantry.bootstrap import Container
from tenantry.storage.tenant_sessions import lower_fence, raise_fence
from tests.support.api import Account, register
from tests.support.clock import ShiftableClock
from tests.support.mailbox import Mailbox
from tests.support.routes import Route, all_pages, assert_guarded, assert_problem, create, make_org

pytestmark = pytest.mark.integration

PLACEMENTS = ["pool", "silo"]
PRODUCT = "/v1/products/{product}"


def routes(product_id: str) -> list[Route]:
    """Every product and order route, with a body that would pass where one is needed."""
    return [
        Route("GET", "/v1/products", "viewer"),
        Route("POST", "/v1/products", "editor", {"name": "X", "price_cents": 1, "currency": "EUR"}),
        Route("GET", PRODUCT, "viewer"),
        Route("PATCH", PRODUCT, "editor", {"name": "Renamed"}),
        Route("DELETE", PRODUCT, "editor"),
        Route("GET", "/v1/orders", "viewer"),
        Route(
            "POST", "/v1/orders", "editor", {"lines": [{"product_id": product_id, "quantity": 1}]}
        ),
        Route("GET", "/v1/orders/{order}", "viewer"),
    ]


async def make_silo(container: Container, tenant_id: str) -> None:
    await container.plan_changes.change_plan(
        tenant_id=uuid.UUID(tenant_id), plan=container.plans.get("premium"), actor_id=None
    )


async def new_product(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    name: str = "Widget",
    price_cents: int = 250,
    currency: str = "EUR",
) -> dict[str, Any]:
    return await create(
        client, "/v1/products", headers, name=name, price_cents=price_cents, currency=currency
    )


async def place_order(
    client: httpx.AsyncClient, headers: dict[str, str], *lines: tuple[str, int]
) -> httpx.Response:
    body = {"lines": [{"product_id": pid, "quantity": qty} for pid, qty in lines]}
    return await client.post("/v1/orders", headers=headers, json=body)


@pytest.fixture
async def tenants(
    container: Container, ann: Account, bob: Account, carol: Account
) -> dict[str, Account]:
    """Ann and Bob in the pool, Carol in a silo, each in their own tenant as owner."""
    await make_silo(container, carol.tenant_id)
    assert await container.tenant_data.store_of(uuid.UUID(carol.tenant_id)) is not container.db
    return {"pool": ann, "other": bob, "silo": carol}


@pytest.mark.parametrize("placement", PLACEMENTS)
async def test_every_route_checks_token_tenant_and_role(
    client: httpx.AsyncClient, mailbox: Mailbox, container: Container, placement: str
) -> None:
    org = await make_org(client, mailbox, container)
    if placement == "silo":
        await make_silo(container, org.tenant_id)
    outsider = await register(client, mailbox, "outsider@example.com")
    product = await new_product(client, org.headers("owner"))
    order = await place_order(client, org.headers("owner"), (product["id"], 1))
    ids = {"product": product["id"], "order": order.json()["id"]}
    for route in routes(product["id"]):
        await assert_guarded(client, route, org=org, outsider=outsider, **ids)


@pytest.mark.parametrize("placement", PLACEMENTS)
async def test_viewers_read_and_editors_write(
    client: httpx.AsyncClient, mailbox: Mailbox, container: Container, placement: str
) -> None:
    org = await make_org(client, mailbox, container)
    if placement == "silo":
        await make_silo(container, org.tenant_id)
    editor, viewer = org.headers("editor"), org.headers("viewer")
    product = await new_product(client, editor)
    path = f"/v1/products/{product['id']}"
    assert (await client.get(path, headers=viewer)).json() == product
    assert_problem(await client.patch(path, headers=viewer, json={}), 403, "insufficient_role")
    patched = await client.patch(path, headers=editor, json={"price_cents": 300})
    assert patched.status_code == 200, patched.text
    order = await place_order(client, editor, (product["id"], 2))
    assert order.status_code == 201, order.text
    assert order.json()["placed_by"] == org.members["editor"].user_id
    read = await client.get(f"/v1/orders/{order.json()['id']}", headers=viewer)
    assert read.json() == order.json()
    assert_problem(await place_order(client, viewer, (product["id"], 1)), 403, "insufficient_role")
    assert (await client.delete(path, headers=editor)).status_code == 204


@pytest.mark.parametrize("placement", PLACEMENTS)
async def test_product_lifecycle(
    client: httpx.AsyncClient, tenants: dict[str, Account], placement: str, clock: ShiftableClock
) -> None:
    headers = tenants[placement].headers()
    product = await create(
        client,
        "/v1/products",
        headers,
        name="  Widget  ",
        description="A\nthing",
        price_cents=0,
        currency="EUR",
    )
    assert set(product) == {
        "id",
        "name",
        "description",
        "price_cents",
        "currency",
        "created_at",
        "updated_at",
    }
    assert (product["name"], product["description"], product["price_cents"]) == (
        "Widget",
        "A\nthing",
        0,
    )
    path = f"/v1/products/{product['id']}"
    assert (await client.get(path, headers=headers)).json() == product

    clock.advance(5)
    changes = {"name": "Gadget", "description": "", "price_cents": 100_000_000, "currency": "USD"}
    patched = await client.patch(path, headers=headers, json=changes)
    assert patched.status_code == 200, patched.text
    assert patched.json() | {"updated_at": None} == product | changes | {"updated_at": None}
    assert patched.json()["updated_at"] > product["updated_at"]
    unchanged = await client.patch(path, headers=headers, json={})
    assert unchanged.json() == patched.json()
    listed = (await client.get("/v1/products", headers=headers)).json()
    assert listed == {"items": [patched.json()], "next_cursor": None}

    assert (await client.delete(path, headers=headers)).status_code == 204
    for method in ("GET", "PATCH", "DELETE"):
        response = await client.request(method, path, headers=headers, json={})
        assert_problem(response, 404, "product_not_found")
    assert (await client.get("/v1/products", headers=headers)).json()["items"] == []


async def test_bodies_are_validated(client: httpx.AsyncClient, tenants: dict[str, Account]) -> None:
    headers = tenants["silo"].headers()
    good = {"name": "Widget", "price_cents": 1, "currency": "EUR"}
    bad_products = [
        {**good, "name": ""},
        {**good, "name": "   "},
        {**good, "name": "x" * 201},
        {**good, "price_cents": -1},
        {**good, "price_cents": 100_000_001},
        {**good, "price_cents": 1.5},
        {**good, "price_cents": "1"},
        {**good, "price_cents": True},
        {**good, "currency": "eur"},
        {**good, "currency": "EURO"},
        {**good, "description": "a\x00b"},
        {"name": "Widget", "currency": "EUR"},
    ]
    for body in bad_products:
        response = await client.post("/v1/products", headers=headers, json=body)
        assert_problem(response, 422, "validation_error")
    product = await new_product(client, headers)
    path = f"/v1/products/{product['id']}"
    for body in ({"currency": "usd"}, {"price_cents": -5}, {"name": ""}):
        assert_problem(
            await client.patch(path, headers=headers, json=body), 422, "validation_error"
        )
    line = {"product_id": product["id"], "quantity": 1}
    bad_orders: list[Any] = [
        {"lines": []},
        {"lines": [line] * 101},
        {"lines": [{**line, "quantity": 0}]},
        {"lines": [{**line, "quantity": 10_001}]},
        {"lines": [{**line, "product_id": "nope"}]},
        {},
    ]
    for body in bad_orders:
        response = await client.post("/v1/orders", headers=headers, json=body)
        assert_problem(response, 422, "validation_error")
    assert (await client.get("/v1/orders", headers=headers)).json()["items"] == []
    hundred = await client.post("/v1/orders", headers=headers, json={"lines": [line] * 100})
    assert hundred.status_code == 201, hundred.text


@pytest.mark.parametrize("placement", PLACEMENTS)
async def test_order_totals_are_computed_and_lines_keep_their_copy(
    client: httpx.AsyncClient, tenants: dict[str, Account], placement: str
) -> None:
    headers = tenants[placement].headers()
    widget = await new_product(client, headers, "Widget", 250)
    gadget = await new_product(client, headers, "Gadget", 1_000)
    response = await place_order(
        client, headers, (widget["id"], 3), (gadget["id"], 2), (widget["id"], 1)
    )
    assert response.status_code == 201, response.text
    order = response.json()
    assert (order["total_cents"], order["currency"]) == (3_000, "EUR")
    assert order["placed_by"] == tenants[placement].user_id
    assert [
        (line["line_no"], line["product_name"], line["unit_price_cents"], line["quantity"])
        for line in order["lines"]
    ] == [(1, "Widget", 250, 3), (2, "Gadget", 1_000, 2), (3, "Widget", 250, 1)]
    assert [line["total_cents"] for line in order["lines"]] == [750, 2_000, 250]

    await client.patch(
        f"/v1/products/{widget['id']}", headers=headers, json={"name": "New", "price_cents": 9}
    )
    await client.delete(f"/v1/products/{gadget['id']}", headers=headers)
    path = f"/v1/orders/{order['id']}"
    assert (await client.get(path, headers=headers)).json() == order
    summary = {key: value for key, value in order.items() if key != "lines"}
    listed = (await client.get("/v1/orders", headers=headers)).json()
    assert listed == {"items": [summary], "next_cursor": None}
    assert_problem(await place_order(client, headers, (gadget["id"], 1)), 422, "unknown_product")


async def test_an_order_is_in_one_currency_and_bounded(
    client: httpx.AsyncClient, tenants: dict[str, Account]
) -> None:
    headers = tenants["pool"].headers()
    euros = await new_product(client, headers, "Euros", 100, "EUR")
    dollars = await new_product(client, headers, "Dollars", 100, "USD")
    mixed = await place_order(client, headers, (euros["id"], 1), (dollars["id"], 1))
    assert_problem(mixed, 422, "mixed_currency")
    assert (await client.get("/v1/orders", headers=headers)).json()["items"] == []
    dear = await new_product(client, headers, "Dear", 100_000_000)
    beyond_32_bits = await place_order(client, headers, (dear["id"], 10_000))
    assert beyond_32_bits.json()["total_cents"] == 1_000_000_000_000


@pytest.mark.catalogue(24)
async def test_no_tenant_sees_or_touches_another_tenants_data(
    client: httpx.AsyncClient, tenants: dict[str, Account]
) -> None:
    products: dict[str, dict[str, Any]] = {}
    orders: dict[str, dict[str, Any]] = {}
    for label, account in tenants.items():
        products[label] = await new_product(client, account.headers(), f"{label}-product")
        placed = await place_order(client, account.headers(), (products[label]["id"], 1))
        orders[label] = placed.json()
    for label, account in tenants.items():
        headers = account.headers()
        listed = (await client.get("/v1/products", headers=headers)).json()["items"]
        assert listed == [products[label]]
        listed_orders = (await client.get("/v1/orders", headers=headers)).json()["items"]
        assert [order["id"] for order in listed_orders] == [orders[label]["id"]]
        for other, product in products.items():
            if other == label:
                continue
            path = f"/v1/products/{product['id']}"
            for method, body in (("GET", None), ("PATCH", {"name": "Mine"}), ("DELETE", None)):
                response = await client.request(method, path, headers=headers, json=body)
                assert_problem(response, 404, "product_not_found")
            ordered = await place_order(
                client, headers, (products[label]["id"], 1), (product["id"], 1)
            )
            assert_problem(ordered, 422, "unknown_product")
            response = await client.get(f"/v1/orders/{orders[other]['id']}", headers=headers)
            assert_problem(response, 404, "order_not_found")
    for label, account in tenants.items():
        path = f"/v1/products/{products[label]['id']}"
        assert (await client.get(path, headers=account.headers())).json() == products[label]
        orders_now = (await client.get("/v1/orders", headers=account.headers())).json()
        assert len(orders_now["items"]) == 1


@pytest.mark.parametrize("placement", PLACEMENTS)
async def test_lists_page_through_everything(
    client: httpx.AsyncClient, tenants: dict[str, Account], placement: str, clock: ShiftableClock
) -> None:
    headers = tenants[placement].headers()
    await new_product(client, tenants["other"].headers(), "elsewhere")
    created = []
    for n in range(4):
        created.append((await new_product(client, headers, f"p{n}"))["id"])
        clock.advance(0.01)
    assert await all_pages(client, headers, "/v1/products") == created
    placed = []
    for product_id in created[:3]:
        placed.append((await place_order(client, headers, (product_id, 1))).json()["id"])
        clock.advance(0.01)
    assert await all_pages(client, headers, "/v1/orders") == placed
    malformed = await client.get("/v1/products", headers=headers, params={"cursor": "x"})
    assert_problem(malformed, 400, "invalid_cursor")


@pytest.mark.catalogue(41)
@pytest.mark.parametrize("placement", PLACEMENTS)
async def test_idempotency_key_creates_once(
    client: httpx.AsyncClient, tenants: dict[str, Account], placement: str
) -> None:
    headers = tenants[placement].headers() | {"Idempotency-Key": "k-1"}
    body = {"name": "Widget", "price_cents": 5, "currency": "EUR"}
    first = await client.post("/v1/products", headers=headers, json=body)
    again = await client.post("/v1/products", headers=headers, json=body)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = await client.post("/v1/products", headers=headers, json={**body, "price_cents": 6})
    assert_problem(other, 409, "idempotency_key_reused")
    products = (await client.get("/v1/products", headers=headers)).json()["items"]
    assert [product["id"] for product in products] == [first.json()["id"]]

    headers["Idempotency-Key"] = "k-2"
    lines = {"lines": [{"product_id": first.json()["id"], "quantity": 2}]}
    ordered = await client.post("/v1/orders", headers=headers, json=lines)
    repeated = await client.post("/v1/orders", headers=headers, json=lines)
    assert ordered.status_code == 201, ordered.text
    assert repeated.json() == ordered.json()
    assert len((await client.get("/v1/orders", headers=headers)).json()["items"]) == 1


@pytest.mark.parametrize("placement", PLACEMENTS)
async def test_writes_answer_409_while_the_data_moves(
    client: httpx.AsyncClient,
    container: Container,
    tenants: dict[str, Account],
    placement: str,
    clock: ShiftableClock,
) -> None:
    account = tenants[placement]
    headers = account.headers()
    product = await new_product(client, headers)
    path = f"/v1/products/{product['id']}"
    tenant_id = uuid.UUID(account.tenant_id)
    store = await container.tenant_data.store_of(tenant_id)
    await raise_fence(store, tenant_id, now=clock.now())

    keyed = headers | {"Idempotency-Key": "during-move"}
    body = {"name": "Late", "price_cents": 1, "currency": "EUR"}
    writes = [
        await client.post("/v1/products", headers=keyed, json=body),
        await client.patch(path, headers=headers, json={"name": "Late"}),
        await client.delete(path, headers=headers),
        await place_order(client, headers, (product["id"], 1)),
    ]
    for response in writes:
        assert_problem(response, 409, "tenant_data_moving")
        assert response.headers["Retry-After"] == "5"
    assert (await client.get(path, headers=headers)).json() == product  # reads go on
    assert (await client.get("/v1/orders", headers=headers)).json()["items"] == []
    other = await new_product(client, tenants["other"].headers(), "unaffected")
    assert other["name"] == "unaffected"

    await lower_fence(store, tenant_id)
    retried = await client.post("/v1/products", headers=keyed, json=body)  # the key was freed
    assert retried.status_code == 201, retried.text
    assert "Idempotent-Replayed" not in retried.headers
