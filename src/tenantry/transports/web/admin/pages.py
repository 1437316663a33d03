"""What every console page shares: the admin section of the app's layout, the limits of its
form fields, and the plans and features it offers to choose from."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from tenantry.bootstrap import Container
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.web.app_pages import app_page
from tenantry.transports.web.render import WebRoute
from tenantry.transports.web.visitors import Visitor

LISTED = 50
TEXT_LIMIT = 200


def console_router() -> PrefixedRouter:
    return PrefixedRouter(prefix="/admin", route_class=WebRoute, include_in_schema=False)


async def admin_page(
    request: Request,
    container: Container,
    visitor: Visitor,
    template: str,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    return await app_page(
        request, container, visitor, template, status=status, admin_section=True, **context
    )


def plan_ids(container: Container) -> list[str]:
    return [plan.id for plan in container.plans.all()]


def feature_names(container: Container) -> list[str]:
    return sorted({name for plan in container.plans.all() for name in plan.features})
