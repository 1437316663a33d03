"""Request bodies of the experiment routes (SPEC §10); an experiment is answered as the
domain's `ExperimentView`."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, Field

from tenantry.domain.names import Label

ExperimentName = Annotated[Label, Field(max_length=200)]


class ExperimentCreate(BaseModel):
    name: ExperimentName
    description: str = Field(default="", max_length=2000)


class DeploymentCreate(BaseModel):
    environment_id: uuid.UUID
