"""The storage router (SPEC §10): code in a tenant unit of work never names a tenant, yet sees
and writes only its own rows, for pool and silo tenants side by side; on PostgreSQL row-level
security holds the line for raw SQL too; writes wait while the data moves."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from tenantry.bootstrap import Container
from tenantry.domain.dataplane.units import TenantDataUnavailable
from tenantry.storage.tenant_models import Product
from tenantry.storage.tenant_sessions import (
    TenantDataMoving,
    lower_fence,
    raise_fence,
    tenant_session,
)
from tests.support.api import Account
from tests.support.clock import ShiftableClock

pytestmark = pytest.mark.integration


def product(name: str, now: datetime, **fields: object) -> Product:
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "name": name,
        "description": "",
        "price_cents": 100,
        "currency": "EUR",
        "created_at": now,
        "updated_at": now,
        **fields,
    }
    return Product(**values)


async def names(container: Container, tenant_id: uuid.UUID) -> set[str]:
    async with container.tenant_data.unit(tenant_id, write=False) as session:
        return set(await session.scalars(select(Product.name)))


@pytest.fixture
async def tenants(
    container: Container, acme: str, bob: Account, carol: Account, clock: ShiftableClock
) -> dict[str, uuid.UUID]:
    """Two pool tenants and a silo tenant, each holding two products."""
    found = {"pool": uuid.UUID(acme), "other": uuid.UUID(bob.tenant_id)}
    found["silo"] = uuid.UUID(carol.tenant_id)
    await container.plan_changes.change_plan(
        tenant_id=found["silo"], plan=container.plans.get("premium"), actor_id=None
    )
    for label, tenant_id in found.items():
        async with container.tenant_data.unit(tenant_id, write=True) as session:
            session.add_all(product(f"{label}-{n}", clock.now()) for n in range(2))
    return found


@pytest.mark.catalogue(27)
async def test_each_tenant_sees_only_its_rows(
    container: Container, tenants: dict[str, uuid.UUID]
) -> None:
    for label, tenant_id in tenants.items():
        assert await names(container, tenant_id) == {f"{label}-0", f"{label}-1"}


async def test_silo_rows_live_in_the_silo_and_pool_rows_in_the_pool(
    container: Container, tenants: dict[str, uuid.UUID]
) -> None:
    async with container.db.read() as session:
        pooled = set(await session.scalars(select(Product.tenant_id)))
    assert pooled == {tenants["pool"], tenants["other"]}
    silo = await container.tenant_data.store_of(tenants["silo"])
    assert silo is not container.db
    async with silo.read() as session:
        assert set(await session.scalars(select(Product.tenant_id))) == {tenants["silo"]}


@pytest.mark.catalogue(24)
async def test_another_tenants_row_cannot_be_read_changed_or_deleted(
    container: Container, tenants: dict[str, uuid.UUID]
) -> None:
    async with container.tenant_data.unit(tenants["other"], write=False) as session:
        foreign = await session.scalar(select(Product.id).limit(1))
    assert foreign is not None
    async with container.tenant_data.unit(tenants["pool"], write=True) as session:
        assert await session.get(Product, foreign) is None
        changed = await session.execute(
            update(Product).where(Product.id == foreign).values(name="stolen")
        )
        removed = await session.execute(delete(Product).where(Product.id == foreign))
        assert (changed.rowcount, removed.rowcount) == (0, 0)  # type: ignore[attr-defined]
    assert await names(container, tenants["other"]) == {"other-0", "other-1"}


@pytest.mark.catalogue(25)
async def test_new_rows_belong_to_the_unit_tenant_whatever_they_claim(
    container: Container, tenants: dict[str, uuid.UUID], clock: ShiftableClock
) -> None:
    async with container.tenant_data.unit(tenants["pool"], write=True) as session:
        session.add(product("sneaky", clock.now(), tenant_id=tenants["other"]))
    assert "sneaky" in await names(container, tenants["pool"])
    assert "sneaky" not in await names(container, tenants["other"])


async def test_row_level_security_scopes_raw_sql(
    container: Container, tenants: dict[str, uuid.UUID]
) -> None:
    if container.db.dialect != "postgresql":
        pytest.skip("row-level security is PostgreSQL's")
    async with container.tenant_data.unit(tenants["pool"], write=False) as session:
        seen = await session.scalar(text("SELECT count(DISTINCT tenant_id) FROM products"))
        total = await session.scalar(select(func.count()).select_from(text("products")))
    assert (seen, total) == (1, 2)
    with pytest.raises(DBAPIError, match="row-level security"):
        async with container.tenant_data.unit(tenants["pool"], write=True) as session:
            await session.execute(
                text(
                    "INSERT INTO products (id, tenant_id, name, description, price_cents, "
                    "currency, created_at, updated_at) VALUES (:id, :tenant, 'x', '', 1, 'EUR', "
                    "now(), now())"
                ),
                {"id": uuid.uuid4(), "tenant": tenants["other"]},
            )


async def test_writes_wait_while_the_data_is_being_copied(
    container: Container, tenants: dict[str, uuid.UUID], clock: ShiftableClock
) -> None:
    store = await container.tenant_data.store_of(tenants["pool"])
    await raise_fence(store, tenants["pool"], now=clock.now())
    with pytest.raises(TenantDataUnavailable):
        async with container.tenant_data.unit(tenants["pool"], write=True) as session:
            session.add(product("late", clock.now()))
    assert await names(container, tenants["pool"]) == {"pool-0", "pool-1"}  # reads go on
    async with container.tenant_data.unit(tenants["other"], write=True) as session:
        session.add(product("unaffected", clock.now()))
    await lower_fence(store, tenants["pool"])
    async with container.tenant_data.unit(tenants["pool"], write=True) as session:
        session.add(product("after", clock.now()))
    assert "after" in await names(container, tenants["pool"])


async def test_the_left_store_keeps_refusing_writes_after_a_move(
    container: Container, tenants: dict[str, uuid.UUID], clock: ShiftableClock
) -> None:
    """A router still pointing at the pool after the switch cannot write there."""
    await container.plan_changes.change_plan(
        tenant_id=tenants["pool"], plan=container.plans.get("premium"), actor_id=None
    )
    assert await names(container, tenants["pool"]) == {"pool-0", "pool-1"}  # now the silo's
    with pytest.raises(TenantDataMoving):
        async with tenant_session(container.db, tenants["pool"], write=True) as session:
            session.add(product("stale", clock.now()))
