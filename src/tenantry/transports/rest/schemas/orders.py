"""Bodies of the order routes (SPEC §10). Prices and totals are the server's, in cents."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from tenantry.domain.dataplane.orders import MAX_LINES, MAX_QUANTITY

Quantity = Annotated[int, Field(strict=True, ge=1, le=MAX_QUANTITY)]


class OrderLineCreate(BaseModel):
    product_id: uuid.UUID
    quantity: Quantity


class OrderCreate(BaseModel):
    lines: Annotated[list[OrderLineCreate], Field(min_length=1, max_length=MAX_LINES)]


class OrderLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    line_no: int
    product_id: uuid.UUID
    product_name: str
    unit_price_cents: int
    quantity: int
    total_cents: int


class OrderSummaryRead(BaseModel):
    """An order in a list, without its lines."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    placed_by: uuid.UUID
    total_cents: int
    currency: str
    created_at: datetime


class OrderRead(OrderSummaryRead):
    lines: list[OrderLineRead]
