"""The tenant data schema: the tables of a tenant's own data (SPEC §10). Pool tenants share one
copy of these tables inside the core database; each silo tenant has a database of its own
holding the same tables. Every row carries `tenant_id` in both, so rows move between the two
unchanged. It has its own migration stream (`tenant_migrations/`), applied to the core database
and to every silo."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tenantry.storage.models import NAMING
from tenantry.storage.types import UTCDateTime


class TenantDataBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        uuid.UUID: Uuid,
    }


class TenantOwned:
    """Every tenant data table's tenant key; the storage router scopes queries through it."""

    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid)


class Product(TenantOwned, TenantDataBase):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price_cents >= 0", name="price_cents"),
        Index("ix_products_tenant_id_created_at", "tenant_id", "created_at"),
        Index("uq_products_tenant_id_id", "tenant_id", "id", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    price_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Order(TenantOwned, TenantDataBase):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("total_cents >= 0", name="total_cents"),
        Index("ix_orders_tenant_id_created_at", "tenant_id", "created_at"),
        Index("uq_orders_tenant_id_id", "tenant_id", "id", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    placed_by: Mapped[uuid.UUID]
    total_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime]


class OrderLine(TenantOwned, TenantDataBase):
    """A line of an order. The product's name and price are copied in, so the order keeps its
    meaning when the product later changes or goes away."""

    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity"),
        ForeignKeyConstraint(
            ["tenant_id", "order_id"], ["orders.tenant_id", "orders.id"], ondelete="CASCADE"
        ),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[uuid.UUID]
    product_name: Mapped[str] = mapped_column(String(200))
    unit_price_cents: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)

    @property
    def total_cents(self) -> int:
        return self.unit_price_cents * self.quantity


class Experiment(TenantOwned, TenantDataBase):
    """An experiment of a project. It is tested in `development` before it may go live in
    other environments; `experiment_deployments` says where it is live."""

    __tablename__ = "experiments"
    __table_args__ = (
        UniqueConstraint("tenant_id", "project_id", "name"),
        Index(
            "ix_experiments_tenant_id_project_id_created_at",
            "tenant_id",
            "project_id",
            "created_at",
        ),
        Index("uq_experiments_tenant_id_id", "tenant_id", "id", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    project_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ExperimentDeployment(TenantOwned, TenantDataBase):
    __tablename__ = "experiment_deployments"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "experiment_id"],
            ["experiments.tenant_id", "experiments.id"],
            ondelete="CASCADE",
        ),
    )

    experiment_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    environment_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    deployed_by: Mapped[uuid.UUID | None]
    deployed_at: Mapped[datetime]


class CollectedEvent(TenantOwned, TenantDataBase):
    """An event a browser or app sent to `POST /v1/collect` with an environment's client key.
    Listed per environment only: data of one environment never shows in another."""

    __tablename__ = "collected_events"
    __table_args__ = (
        Index(
            "ix_collected_events_tenant_id_environment_id_received_at",
            "tenant_id",
            "environment_id",
            "received_at",
            "id",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    project_id: Mapped[uuid.UUID]
    environment_id: Mapped[uuid.UUID]
    experiment_id: Mapped[uuid.UUID | None]
    type: Mapped[str] = mapped_column(String(100))
    data: Mapped[dict[str, Any]]
    received_at: Mapped[datetime]


class TenantFence(TenantOwned, TenantDataBase):
    """Raised (`moving`) in a store while the tenant's rows are copied out of it: tenant-scoped
    write units check it inside their transaction and refuse, so no write lands in a copy's
    source after the copy read it. A tenant with no row is not moving."""

    __tablename__ = "tenant_fences"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    moving: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime]
