"""Bodies of the team and team member routes (SPEC §6)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from tenantry.domain.names import TeamName


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
