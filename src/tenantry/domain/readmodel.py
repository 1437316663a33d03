"""The base of the domain's read models: one per resource, the body REST returns, the type
GraphQL wraps and what pages render. Frozen, and readable from ORM rows and selected rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

from pydantic import BaseModel, ConfigDict


class ReadModel(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)

    @classmethod
    def of_row(cls, row: Sequence[object]) -> Self:
        """The model of a selected row whose columns come in the order of the fields."""
        return cls.model_validate(dict(zip(cls.model_fields, row, strict=True)))
