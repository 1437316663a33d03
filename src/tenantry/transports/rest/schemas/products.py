"""Request bodies of the product routes (SPEC §10); a product is answered as the domain's
`ProductView`. Money is integer cents with an ISO 4217 code."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from tenantry.domain.dataplane.products import MAX_PRICE_CENTS
from tenantry.domain.names import Label

ProductName = Annotated[Label, Field(max_length=200)]
# Free text, but no NUL: PostgreSQL refuses it in text columns.
Description = Annotated[str, StringConstraints(max_length=10_000, pattern=r"^[^\x00]*$")]
# Strict: "100" and true are not prices; 12.5 is refused in any mode.
PriceCents = Annotated[int, Field(strict=True, ge=0, le=MAX_PRICE_CENTS)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class ProductCreate(BaseModel):
    name: ProductName
    description: Description = ""
    price_cents: PriceCents
    currency: Currency


class ProductUpdate(BaseModel):
    name: ProductName | None = None
    description: Description | None = None
    price_cents: PriceCents | None = None
    currency: Currency | None = None
