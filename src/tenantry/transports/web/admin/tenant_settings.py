"""Changing a tenant from the console: its plan, name, feature overrides and metadata, through
the services `PATCH /v1/admin/tenants/{id}` calls."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable
from typing import Any

from fastapi import Depends, Request, Response
from pydantic import ValidationError

from tenantry.bootstrap import Container
from tenantry.domain.provider.admin_tenants import TenantChanges
from tenantry.errors import DomainError
from tenantry.transports.rest.deps import ContainerDep
from tenantry.transports.rest.limits import lift_deadline
from tenantry.transports.rest.schemas.admin import AdminTenantUpdate
from tenantry.transports.web.admin.access import AdminPostDep
from tenantry.transports.web.admin.pages import TEXT_LIMIT, console_router, feature_names
from tenantry.transports.web.admin.tenant_page import after_action, details_page
from tenantry.transports.web.visitors import Post, field

router = console_router()
METADATA_LIMIT = 20_000


def _change(
    container: Container, post: Post, tenant_id: uuid.UUID, changes: TenantChanges
) -> Awaitable[None]:
    """The update as the posting admin, to be run by `after_action`."""
    return container.admin_tenants.update(
        tenant_id=tenant_id, changes=changes, admin_id=post.visitor.principal.user_id
    )


@router.post("/tenants/{tenant_id}/plan", dependencies=[Depends(lift_deadline)])
async def change_plan(
    tenant_id: uuid.UUID, request: Request, container: ContainerDep, post: AdminPostDep
) -> Response:
    """Change the plan (as `PATCH /v1/admin/tenants/{id} {plan}`); between the pool and a silo
    the tenant's data moves before this answers."""
    changes = TenantChanges(plan=field(post.form, "plan", limit=50))
    action = _change(container, post, tenant_id, changes)
    return await after_action(request, container, post, tenant_id, action, "admin_plan_changed")


async def _update(
    request: Request,
    container: Container,
    post: Post,
    tenant_id: uuid.UUID,
    fields: dict[str, Any],
    notice: str,
    **kept: Any,
) -> Response:
    """A change through the body schema of `PATCH /v1/admin/tenants/{id}`, so the console
    refuses what the API refuses, with a message instead of a problem document; `kept` is
    what the form showed, shown again with the message."""
    try:
        body = AdminTenantUpdate.model_validate(fields)
    except ValidationError as error:
        return await details_page(
            request, container, post.visitor, tenant_id, status=422, error=invalid(error), **kept
        )
    changes = TenantChanges(name=body.name, metadata=body.metadata, features=body.features)
    action = _change(container, post, tenant_id, changes)
    return await after_action(request, container, post, tenant_id, action, notice)


def invalid(error: ValidationError) -> str:
    """The first problem pydantic found, as a sentence."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}." if where else f"{first['msg']}."


@router.post("/tenants/{tenant_id}/name")
async def rename(
    tenant_id: uuid.UUID, request: Request, container: ContainerDep, post: AdminPostDep
) -> Response:
    name = field(post.form, "name", limit=TEXT_LIMIT + 1).strip()
    return await _update(request, container, post, tenant_id, {"name": name}, "admin_renamed")


@router.post("/tenants/{tenant_id}/features")
async def set_features(
    tenant_id: uuid.UUID, request: Request, container: ContainerDep, post: AdminPostDep
) -> Response:
    """Each feature follows its plan or is forced on or off (an override)."""
    chosen = {"plan": None, "on": True, "off": False}
    features = {
        name: chosen.get(field(post.form, f"feature.{name}", limit=10))
        for name in feature_names(container)
    }
    return await _update(
        request, container, post, tenant_id, {"features": features}, "admin_features_saved"
    )


def _metadata_object(text: str) -> dict[str, Any] | None:
    """The JSON object posted, or None if the text is too long or not an object."""
    try:
        wanted = json.loads(text or "{}") if len(text) <= METADATA_LIMIT else None
    except ValueError:
        return None
    return wanted if isinstance(wanted, dict) else None


@router.post("/tenants/{tenant_id}/metadata")
async def set_metadata(
    tenant_id: uuid.UUID, request: Request, container: ContainerDep, post: AdminPostDep
) -> Response:
    """The whole metadata object as JSON: keys left out are removed (PATCH merges, so they
    are sent as nulls)."""
    text = field(post.form, "metadata", limit=METADATA_LIMIT + 1)
    wanted = _metadata_object(text)
    if wanted is None:
        message = f"Enter a JSON object of at most {METADATA_LIMIT} characters."
        return await details_page(
            request,
            container,
            post.visitor,
            tenant_id,
            status=422,
            error=message,
            metadata_text=text,
        )
    try:
        current = (await container.admin_tenants.details(tenant_id=tenant_id)).metadata
    except DomainError:
        current = {}  # the update says what is wrong
    merged = {**dict.fromkeys(current), **wanted}
    return await _update(
        request,
        container,
        post,
        tenant_id,
        {"metadata": merged},
        "admin_metadata_saved",
        metadata_text=text,
    )
