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
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
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


class Product(TenantDataBase):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price_cents >= 0", name="price_cents"),
        Index("ix_products_tenant_id_created_at", "tenant_id", "created_at"),
        Index("uq_products_tenant_id_id", "tenant_id", "id", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    price_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Order(TenantDataBase):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("total_cents >= 0", name="total_cents"),
        Index("ix_orders_tenant_id_created_at", "tenant_id", "created_at"),
        Index("uq_orders_tenant_id_id", "tenant_id", "id", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID]
    placed_by: Mapped[uuid.UUID]
    total_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime]


class OrderLine(TenantDataBase):
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
    tenant_id: Mapped[uuid.UUID]
    product_id: Mapped[uuid.UUID]
    product_name: Mapped[str] = mapped_column(String(200))
    unit_price_cents: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
