"""A tenant's projects in the web UI (SPEC §6, §11): the list, and creating a project with the
default environments. One project's page is `environments`. The posts run the domain services
the REST routers call, so the role rules and plan limits are the API's."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

from fastapi import APIRouter, Response

from tenantry.domain.names import ProjectName
from tenantry.transports.web.acting import Acting, FormVisit, PageVisit
from tenantry.transports.web.forms import TenantForm
from tenantry.transports.web.names import name_rule
from tenantry.transports.web.render import WebRoute

router = APIRouter(
    prefix="/app/t/{tenant_id}/projects", route_class=WebRoute, include_in_schema=False
)
PROJECT_NAME = name_rule("a project name", ProjectName)


def projects_path(tenant_id: uuid.UUID) -> str:
    return f"/app/t/{tenant_id}/projects"


async def projects_page(acting: Acting, *, status: int = 200, **context: Any) -> Response:
    """The tenant's projects, as of now."""
    find = acting.container.projects.find
    return await acting.listing_page(
        "projects.html", find, title="Projects", collection="projects", status=status, **context
    )


@router.get("")
async def list_page(tenant_id: uuid.UUID, visit: PageVisit) -> Response:
    return await projects_page(await visit.acting_in(tenant_id))


@router.post("")
async def create(tenant_id: uuid.UUID, visit: FormVisit) -> Response:
    """A new project with the default environments (as `POST /v1/projects`)."""
    acting, path = await visit.acting_in(tenant_id), projects_path(tenant_id)
    form = TenantForm(acting, path, partial(projects_page, acting), {})
    to_project = lambda project: f"{path}/{project.id}"  # noqa: E731
    created = acting.container.projects.create
    return await form.named(PROJECT_NAME, created, "project_created", done=to_project)
