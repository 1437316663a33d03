"""Plan changes across isolation modes move the tenant's data (SPEC §8): pool -> silo -> pool
keeps every row, never touches another tenant's, and an interruption at any point loses
nothing. Deleting a silo tenant drops its silo; `db upgrade` migrates every silo."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import httpx
import pytest
from alembic import command
from sqlalchemy import inspect, select

from tenantry.bootstrap import Container
from tenantry.errors import Conflict
from tenantry.faults import InjectedFault
from tenantry.storage.migrate import TENANT_MIGRATIONS, alembic_config
from tenantry.storage.models import StoreMove, Tenant
from tenantry.storage.tenant_models import Order, OrderLine, Product
from tenantry.storage.tenant_rows import count_rows
from tests.support.api import Account
from tests.support.clock import ShiftableClock
from tests.support.silos import silo_present

pytestmark = pytest.mark.integration
ROWS = {
    "orders": 3,
    "products": 4,
    "order_lines": 6,
    "experiments": 0,
    "experiment_deployments": 0,
    "collected_events": 0,
}


async def move(container: Container, tenant_id: uuid.UUID, plan: str) -> None:
    await container.plan_changes.change_plan(
        tenant_id=tenant_id, plan=container.plans.get(plan), actor_id=None
    )


async def interrupted_move(
    container: Container, tenant_id: uuid.UUID, plan: str, *, at: str
) -> None:
    """A plan change that dies at checkpoint `at`, as a crash there would leave it."""
    container.faults.armed = at
    with pytest.raises(InjectedFault):
        await move(container, tenant_id, plan)
    container.faults.armed = None


async def tenant_row(container: Container, tenant_id: uuid.UUID) -> Tenant:
    async with container.db.read() as session:
        tenant = await session.get(Tenant, tenant_id)
    assert tenant is not None
    return tenant


async def fill(container: Container, tenant_id: uuid.UUID, now: datetime) -> set[str]:
    """Products and orders with lines in the tenant's store; the product names."""
    store = await container.stores.of(await tenant_row(container, tenant_id))
    names = {f"{tenant_id.hex[:6]}-{n}" for n in range(ROWS["products"])}
    async with store.transaction() as session:
        products = [
            Product(
                id=uuid.uuid4(),
                tenant_id=tenant_id,
                name=name,
                description="",
                price_cents=100 * n,
                currency="EUR",
                created_at=now,
                updated_at=now,
            )
            for n, name in enumerate(sorted(names))
        ]
        session.add_all(products)
        for _ in range(ROWS["orders"]):
            order = Order(
                id=uuid.uuid4(),
                tenant_id=tenant_id,
                placed_by=uuid.uuid4(),
                total_cents=300,
                currency="EUR",
                created_at=now,
            )
            session.add(order)
            await session.flush()
            session.add_all(
                OrderLine(
                    order_id=order.id,
                    line_no=line,
                    tenant_id=tenant_id,
                    product_id=products[line].id,
                    product_name=products[line].name,
                    unit_price_cents=products[line].price_cents,
                    quantity=1,
                )
                for line in range(2)
            )
    return names


async def names_in_store(container: Container, tenant_id: uuid.UUID) -> set[str]:
    store = await container.stores.of(await tenant_row(container, tenant_id))
    async with store.read() as session:
        found = await session.scalars(select(Product.name).where(Product.tenant_id == tenant_id))
        return set(found)


@pytest.fixture
async def tenants(
    container: Container, acme: str, bob: Account, clock: ShiftableClock
) -> tuple[uuid.UUID, uuid.UUID, set[str]]:
    """Acme (moving) and Bob's workspace (a bystander in the pool), both with data."""
    moving, bystander = uuid.UUID(acme), uuid.UUID(bob.tenant_id)
    names = await fill(container, moving, clock.now())
    await fill(container, bystander, clock.now())
    return moving, bystander, names


async def test_pool_to_silo_to_pool_keeps_every_row(
    container: Container, tenants: tuple[uuid.UUID, uuid.UUID, set[str]]
) -> None:
    moving, bystander, names = tenants
    await move(container, moving, "premium")

    tenant = await tenant_row(container, moving)
    assert (tenant.plan, tenant.isolation) == ("premium", "silo")
    assert await silo_present(container, moving)
    silo = await container.stores.of(tenant)
    assert silo is not container.db
    assert await count_rows(silo, moving) == ROWS
    assert await count_rows(container.db, moving) == dict.fromkeys(ROWS, 0)
    assert await names_in_store(container, moving) == names
    assert await count_rows(container.db, bystander) == ROWS

    await move(container, moving, "basic")

    tenant = await tenant_row(container, moving)
    assert (tenant.plan, tenant.isolation, tenant.silo_locator_sealed) == ("basic", "pool", None)
    assert not await silo_present(container, moving)
    assert await count_rows(container.db, moving) == ROWS
    assert await names_in_store(container, moving) == names
    assert await count_rows(container.db, bystander) == ROWS
    async with container.db.read() as session:
        assert await session.get(StoreMove, moving) is None


async def test_same_isolation_changes_only_the_plan(
    container: Container, tenants: tuple[uuid.UUID, uuid.UUID, set[str]]
) -> None:
    moving, _, _ = tenants
    await move(container, moving, "standard")
    tenant = await tenant_row(container, moving)
    assert (tenant.plan, tenant.isolation) == ("standard", "pool")
    assert await count_rows(container.db, moving) == ROWS


async def test_an_interrupted_copy_is_abandoned_with_the_source_intact(
    container: Container, tenants: tuple[uuid.UUID, uuid.UUID, set[str]]
) -> None:
    moving, _, names = tenants
    await interrupted_move(container, moving, "premium", at="store_move.copy")
    tenant = await tenant_row(container, moving)
    assert (tenant.plan, tenant.isolation) == ("free", "pool")
    assert await names_in_store(container, moving) == names
    assert not await silo_present(container, moving)
    async with container.db.read() as session:
        assert await session.get(StoreMove, moving) is None


async def test_a_move_that_died_before_the_switch_is_abandoned_by_the_sweep(
    container: Container,
    tenants: tuple[uuid.UUID, uuid.UUID, set[str]],
    clock: ShiftableClock,
) -> None:
    moving, _, names = tenants
    await interrupted_move(container, moving, "premium", at="store_move.switch")
    # The copy exists but the tenant still reads the pool; a second change must wait.
    assert await silo_present(container, moving)
    assert (await tenant_row(container, moving)).isolation == "pool"
    with pytest.raises(Conflict):
        await move(container, moving, "premium")

    assert await container.plan_changes.resume_all() == 0  # not stalled yet
    clock.advance(16 * 60)
    assert await container.plan_changes.resume_all() == 1

    assert not await silo_present(container, moving)
    assert await names_in_store(container, moving) == names
    await move(container, moving, "premium")
    assert await names_in_store(container, moving) == names


async def test_a_move_that_died_after_the_switch_has_its_old_copy_removed(
    container: Container,
    tenants: tuple[uuid.UUID, uuid.UUID, set[str]],
    clock: ShiftableClock,
) -> None:
    moving, _, names = tenants
    await interrupted_move(container, moving, "premium", at="store_move.cleanup")
    assert (await tenant_row(container, moving)).isolation == "silo"
    assert await count_rows(container.db, moving) == ROWS  # the old copy, not yet removed
    assert await names_in_store(container, moving) == names

    clock.advance(16 * 60)
    assert await container.plan_changes.resume_all() == 1

    assert await count_rows(container.db, moving) == dict.fromkeys(ROWS, 0)
    assert await names_in_store(container, moving) == names


async def test_an_interrupted_move_back_to_the_pool_keeps_the_silo(
    container: Container, tenants: tuple[uuid.UUID, uuid.UUID, set[str]]
) -> None:
    moving, bystander, names = tenants
    await move(container, moving, "premium")
    await interrupted_move(container, moving, "basic", at="store_move.copy")
    assert (await tenant_row(container, moving)).isolation == "silo"
    assert await names_in_store(container, moving) == names
    assert await count_rows(container.db, moving) == dict.fromkeys(ROWS, 0)
    assert await count_rows(container.db, bystander) == ROWS


async def test_raced_plan_changes_move_the_data_once(
    container: Container, tenants: tuple[uuid.UUID, uuid.UUID, set[str]]
) -> None:
    moving, _, names = tenants
    outcomes = await asyncio.gather(
        *(move(container, moving, "premium") for _ in range(3)), return_exceptions=True
    )
    assert all(outcome is None or isinstance(outcome, Conflict) for outcome in outcomes)
    assert (await tenant_row(container, moving)).isolation == "silo"
    assert await names_in_store(container, moving) == names


async def test_deleting_a_silo_tenant_drops_its_silo(
    client: httpx.AsyncClient,
    container: Container,
    ann: Account,
    tenants: tuple[uuid.UUID, uuid.UUID, set[str]],
) -> None:
    moving, _, _ = tenants
    await move(container, moving, "premium")
    assert await silo_present(container, moving)
    response = await client.delete("/v1/tenant", headers=ann.headers(str(moving)))
    assert response.status_code == 204
    assert not await silo_present(container, moving)


async def test_deleting_a_pool_tenant_deletes_its_pool_rows(
    client: httpx.AsyncClient,
    container: Container,
    ann: Account,
    tenants: tuple[uuid.UUID, uuid.UUID, set[str]],
) -> None:
    moving, bystander, _ = tenants
    response = await client.delete("/v1/tenant", headers=ann.headers(str(moving)))
    assert response.status_code == 204
    assert await count_rows(container.db, moving) == dict.fromkeys(ROWS, 0)
    assert await count_rows(container.db, bystander) == ROWS


async def test_upgrading_migrates_every_silo(
    container: Container, tenants: tuple[uuid.UUID, uuid.UUID, set[str]]
) -> None:
    moving, _, _ = tenants
    await move(container, moving, "premium")
    locator = container.stores.silos.locator(moving)
    await container.stores.silos.dispose()
    scripts = alembic_config(locator, scripts=TENANT_MIGRATIONS)
    await asyncio.to_thread(command.downgrade, scripts, "base")
    assert await silo_tables(container, moving) == set()

    assert await container.stores.upgrade_silos() == 1

    assert await silo_tables(container, moving) >= {"products", "orders", "order_lines"}


async def silo_tables(container: Container, tenant_id: uuid.UUID) -> set[str]:
    store = await container.stores.of(await tenant_row(container, tenant_id))
    async with store.engine.connect() as connection:
        names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    return set(names) - {"tenant_data_version"}


async def test_the_sweep_drops_silos_whose_tenant_is_gone(
    container: Container, tenants: tuple[uuid.UUID, uuid.UUID, set[str]]
) -> None:
    moving, _, _ = tenants
    await move(container, moving, "premium")
    orphan = uuid.uuid4()  # as if its tenant was deleted and the process died before the drop
    await container.stores.silos.create(orphan)

    assert await container.stores.drop_orphaned_silos() == 1

    assert not await silo_present(container, orphan)
    assert await silo_present(container, moving)
