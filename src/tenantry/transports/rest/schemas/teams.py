"""Bodies of the team and team member routes (SPEC §6)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from tenantry.transports.rest.schemas.common import Label

TeamName = Annotated[Label, Field(max_length=200)]


class TeamCreate(BaseModel):
    name: TeamName


class TeamUpdate(BaseModel):
    name: TeamName | None = None


class TeamRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    member_count: int
    created_at: datetime


class TeamMemberRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    user_id: uuid.UUID
    email: str
    name: str
    role: str
    added_at: datetime
