"""Bodies of the team and team member routes (SPEC §6)."""

from __future__ import annotations

from pydantic import BaseModel

from tenantry.domain.names import TeamName


class TeamCreate(BaseModel):
    name: TeamName


class TeamUpdate(BaseModel):
    name: TeamName | None = None
