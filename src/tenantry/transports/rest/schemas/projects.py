"""Bodies of the project and environment routes (SPEC §6)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from tenantry.domain.accounts.environments import snippet
from tenantry.domain.names import EnvironmentName, ProjectName, Slug
from tenantry.storage.models import Environment


class ProjectCreate(BaseModel):
    name: ProjectName


class ProjectUpdate(BaseModel):
    name: ProjectName | None = None


class ProjectRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    team_ids: list[uuid.UUID]
    created_at: datetime


class EnvironmentCreate(BaseModel):
    name: EnvironmentName
    slug: Slug | None = None


class EnvironmentUpdate(BaseModel):
    name: EnvironmentName | None = None


class EnvironmentRead(BaseModel):
    id: uuid.UUID
    name: str
    slug: str
    client_key: str
    snippet: str
    created_at: datetime

    @classmethod
    def of(cls, environment: Environment, *, public_url: str) -> EnvironmentRead:
        return cls(
            id=environment.id,
            name=environment.name,
            slug=environment.slug,
            client_key=environment.client_key,
            snippet=snippet(public_url=public_url, client_key=environment.client_key),
            created_at=environment.created_at,
        )
