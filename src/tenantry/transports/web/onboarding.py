"""The onboarding wizard (SPEC §11) at `/app/t/{id}/onboarding`: (1) copy the script snippet
of the first project's development environment, (2) company details into the tenant profile,
(3) invite teammates, (4) create a first project, or a first experiment in a project. Every
step can be skipped; the progress is kept per tenant (`domain.accounts.onboarding_progress`).
Admins and owners only: the posts run the services of `PATCH /v1/tenant`, `POST
/v1/invitations`, `POST /v1/projects` and `POST /v1/projects/{id}/experiments`."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from tenantry.bootstrap import Container
from tenantry.domain.accounts import environments
from tenantry.domain.accounts.capabilities import RUN_ONBOARDING
from tenantry.domain.accounts.onboarding_progress import STEPS, State, first_open
from tenantry.domain.accounts.roles import TenantActor
from tenantry.domain.accounts.wizard import WizardView
from tenantry.errors import DomainError
from tenantry.transports.rest.deps import ContainerDep
from tenantry.transports.rest.schemas.experiments import ExperimentName
from tenantry.transports.rest.schemas.tenant import TenantProfile
from tenantry.transports.web.app_pages import STEP_TITLES, app_page, tenant_actor
from tenantry.transports.web.entry import failure
from tenantry.transports.web.names import name_rule
from tenantry.transports.web.people import invitation_form, invite_all
from tenantry.transports.web.projects import PROJECT_NAME
from tenantry.transports.web.render import WebRoute, redirect
from tenantry.transports.web.visitors import (
    PageInterrupt,
    PostDep,
    Visitor,
    VisitorDep,
    field,
    form_id,
)

router = APIRouter(
    prefix="/app/t/{tenant_id}/onboarding", route_class=WebRoute, include_in_schema=False
)
INVITE_ROLES = ["admin", "editor", "viewer"]
EXPERIMENT_NAME = name_rule("an experiment name", ExperimentName)
DESCRIPTION_LIMIT = 2000
FIELD_NAMES = {
    "company_name": "Company name",
    "employee_count": "Employee count",
    "website": "Website",
}


def wizard_url(tenant_id: uuid.UUID, step: str | None = None) -> str:
    base = f"/app/t/{tenant_id}/onboarding"
    return f"{base}?step={step}" if step else base


def _snippet(container: Container, shown: WizardView) -> tuple[str, str, str] | None:
    """(project name, environment name, snippet) for the first step, or None."""
    first = shown.first_environment
    if first is None:
        return None
    public_url = container.settings.public_url
    code = environments.snippet(public_url=public_url, client_key=first.environment.client_key)
    return first.project_name, first.environment.name, code


async def wizard_page(
    request: Request,
    container: Container,
    visitor: Visitor,
    actor: TenantActor,
    step: str | None,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    tenant = await container.tenant_views.get(actor.tenant_id)
    shown = await container.onboarding.view(actor=actor, step=step)
    if shown.step == "project":
        context.setdefault("project_choices", shown.project_choices)
    profile = shown.profile
    values = context.pop("values", None) or {
        name: "" if profile.get(name) is None else str(profile[name]) for name in FIELD_NAMES
    }
    return await app_page(
        request,
        container,
        visitor,
        "onboarding.html",
        status=status,
        current_tenant_id=actor.tenant_id,
        title=f"Get started · {tenant.name}",
        tenant=tenant,
        steps=[(name, STEP_TITLES[name], shown.states[name]) for name in STEPS],
        step=shown.step,
        step_title=STEP_TITLES.get(shown.step or "", ""),
        snippet=_snippet(container, shown),
        values=values,
        roles=INVITE_ROLES,
        experiments_refusal=container.plans.refusal(tenant, "experiments"),
        **context,
    )


async def _admin(
    request: Request, container: Container, visitor: Visitor, tenant_id: uuid.UUID
) -> TenantActor:
    """Admins and owners; anyone else is refused with the role message (403)."""
    actor = await tenant_actor(request, container, visitor, tenant_id)
    try:
        actor.require(RUN_ONBOARDING)
    except DomainError as error:
        code, message = failure(error)
        refused = await app_page(
            request,
            container,
            visitor,
            "onboarding_refused.html",
            status=code,
            current_tenant_id=tenant_id,
            title="Not available",
            tenant=await container.tenant_views.get(tenant_id),
            error=message,
        )
        raise PageInterrupt(refused) from error
    return actor


async def _advance(container: Container, actor: TenantActor, step: str, state: State) -> Response:
    return _to_following(
        actor, await container.onboarding.close_step(actor=actor, step=step, state=state)
    )


def _to_following(actor: TenantActor, states: dict[str, State]) -> Response:
    """The wizard at its first open step, after one was closed."""
    following = first_open(states)
    return redirect(
        wizard_url(actor.tenant_id, following) if following else wizard_url(actor.tenant_id)
    )


@router.get("")
async def wizard(
    tenant_id: uuid.UUID, request: Request, container: ContainerDep, visitor: VisitorDep
) -> Response:
    actor = await _admin(request, container, visitor, tenant_id)
    return await wizard_page(request, container, visitor, actor, request.query_params.get("step"))


@router.post("/{step}/skip")
async def skip(
    tenant_id: uuid.UUID, step: str, request: Request, container: ContainerDep, post: PostDep
) -> Response:
    actor = await _admin(request, container, post.visitor, tenant_id)
    if step not in STEPS:
        return redirect(wizard_url(tenant_id))
    return await _advance(container, actor, step, "skipped")


@router.post("/snippet")
async def snippet_copied(
    tenant_id: uuid.UUID, request: Request, container: ContainerDep, post: PostDep
) -> Response:
    actor = await _admin(request, container, post.visitor, tenant_id)
    return await _advance(container, actor, "snippet", "done")


def _company_error(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        name = FIELD_NAMES.get(str(item["loc"][0]) if item["loc"] else "", "A field")
        if name == "Website":
            problems.append("Website: enter a full address such as https://example.com.")
        elif name == "Employee count":
            problems.append("Employee count: enter a whole number from 1 to 10,000,000.")
        else:
            problems.append(f"{name}: enter 1 to 200 characters, without control characters.")
    return " ".join(dict.fromkeys(problems))


@router.post("/company")
async def company(
    tenant_id: uuid.UUID, request: Request, container: ContainerDep, post: PostDep
) -> Response:
    """Company name, employee count and website into the tenant profile, validated by the
    schema of `PATCH /v1/tenant` (an empty field leaves the profile's value as it is)."""
    actor = await _admin(request, container, post.visitor, tenant_id)
    values = {name: field(post.form, name, limit=1000).strip() for name in FIELD_NAMES}
    again = partial(wizard_page, request, container, post.visitor, actor, "company", values=values)
    given = {name: value for name, value in values.items() if value}
    if not given:
        return await again(status=422, error="Fill in at least one field, or skip this step.")
    try:
        profile = TenantProfile.model_validate(given).model_dump(mode="json", exclude_unset=True)
    except ValidationError as error:
        return await again(status=422, error=_company_error(error))
    try:
        states = await container.onboarding.save_company(actor=actor, profile=profile)
    except DomainError as error:
        code, message = failure(error)
        return await again(status=code, error=message)
    return _to_following(actor, states)


@router.post("/invite")
async def invite(
    tenant_id: uuid.UUID, request: Request, container: ContainerDep, post: PostDep
) -> Response:
    """Invite each address (as `POST /v1/invitations`, one transaction each). The step is done
    once one invitation is sent; refused addresses are shown with their reasons."""
    actor = await _admin(request, container, post.visitor, tenant_id)
    wanted = invitation_form(post.form)
    if isinstance(wanted, str):
        return await wizard_page(
            request, container, post.visitor, actor, "invite", status=422, error=wanted
        )
    issued, refused = await invite_all(container, actor, *wanted)
    if issued:
        await container.onboarding.close_step(actor=actor, step="invite", state="done")
    return await wizard_page(
        request,
        container,
        post.visitor,
        actor,
        "invite",
        status=200 if issued else 422,
        issued=issued,
        refused=refused,
    )


@router.post("/project")
async def project(
    tenant_id: uuid.UUID, request: Request, container: ContainerDep, post: PostDep
) -> Response:
    """A project with the default environments (as `POST /v1/projects`)."""
    actor = await _admin(request, container, post.visitor, tenant_id)
    name = PROJECT_NAME.read(post.form)
    if name is None:
        message = PROJECT_NAME.message
        return await wizard_page(
            request, container, post.visitor, actor, "project", status=422, error=message
        )
    try:
        states = await container.onboarding.create_project(actor=actor, name=name)
    except DomainError as error:
        code, message = failure(error)
        return await wizard_page(
            request, container, post.visitor, actor, "project", status=code, error=message
        )
    return _to_following(actor, states)


@router.post("/experiment")
async def experiment(
    tenant_id: uuid.UUID, request: Request, container: ContainerDep, post: PostDep
) -> Response:
    """An experiment in one of the tenant's projects (as `POST /v1/projects/{id}/experiments`),
    live nowhere until it is deployed; it completes the last step as a project does."""
    actor = await _admin(request, container, post.visitor, tenant_id)
    project_id = form_id(post.form, "project_id")
    name = EXPERIMENT_NAME.read(post.form)
    description = field(post.form, "description", limit=DESCRIPTION_LIMIT + 1).strip()
    problem = None
    if project_id is None:
        problem = "Choose the project the experiment belongs to."
    elif name is None:
        problem = EXPERIMENT_NAME.message
    elif len(description) > DESCRIPTION_LIMIT:
        problem = f"Keep the description under {DESCRIPTION_LIMIT} characters."
    if problem is not None or project_id is None or name is None:
        return await wizard_page(
            request, container, post.visitor, actor, "project", status=422, error=problem
        )
    try:
        await container.experiments.create(
            actor=actor, project_id=project_id, name=name, description=description
        )
    except DomainError as error:
        code, message = failure(error)
        return await wizard_page(
            request, container, post.visitor, actor, "project", status=code, error=message
        )
    return await _advance(container, actor, "project", "done")
