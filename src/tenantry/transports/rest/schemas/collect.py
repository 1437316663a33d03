"""Shapes of collection (SPEC §10): events in from browsers and their receipt; the
environment's list answers the domain's `EventView`."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class EventCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    experiment_id: uuid.UUID | None = None
    type: str = Field(min_length=1, max_length=100)
    data: dict[str, Any] = Field(default_factory=dict)


class EventAccepted(BaseModel):
    id: uuid.UUID
