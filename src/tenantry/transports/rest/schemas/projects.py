"""Bodies of the project and environment routes (SPEC §6)."""

from __future__ import annotations

from pydantic import BaseModel

from tenantry.domain.names import EnvironmentName, ProjectName, Slug


class ProjectCreate(BaseModel):
    name: ProjectName


class ProjectUpdate(BaseModel):
    name: ProjectName | None = None


class EnvironmentCreate(BaseModel):
    name: EnvironmentName
    slug: Slug | None = None


class EnvironmentUpdate(BaseModel):
    name: EnvironmentName | None = None
