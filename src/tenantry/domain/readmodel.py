"""The base of the domain's read models: what a service answers about a resource, which REST
returns as its body, GraphQL wraps and pages render. Frozen, and readable from ORM rows."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ReadModel(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)
