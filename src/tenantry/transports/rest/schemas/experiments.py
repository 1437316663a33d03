"""Bodies of the experiment routes (SPEC §10)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from tenantry.transports.rest.schemas.common import Label

ExperimentName = Annotated[Label, Field(max_length=200)]


class ExperimentCreate(BaseModel):
    name: ExperimentName
    description: str = Field(default="", max_length=2000)


class DeploymentCreate(BaseModel):
    environment_id: uuid.UUID


class LiveRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    environment_id: uuid.UUID
    slug: str
    deployed_at: datetime


class ExperimentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    project_id: uuid.UUID
    name: str
    description: str
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    live_in: list[LiveRead]
