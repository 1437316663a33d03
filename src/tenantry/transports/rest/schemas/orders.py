"""Request bodies of the order routes (SPEC §10); an order is answered as the domain's
`OrderView`. Prices and totals are the server's, in cents."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, Field

from tenantry.domain.dataplane.orders import MAX_LINES, MAX_QUANTITY

Quantity = Annotated[int, Field(strict=True, ge=1, le=MAX_QUANTITY)]


class OrderLineCreate(BaseModel):
    product_id: uuid.UUID
    quantity: Quantity


class OrderCreate(BaseModel):
    lines: Annotated[list[OrderLineCreate], Field(min_length=1, max_length=MAX_LINES)]
