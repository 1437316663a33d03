"""Self-service tenant registration (SPEC §8). Anonymous: the registration id is an
unguessable handle its registrant polls, and an Idempotency-Key is scoped by the address."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Response, status
from fastapi.responses import JSONResponse

from tenantry.domain.idempotency import StoredResponse
from tenantry.domain.provider.registrations import RegistrationView, key_scope
from tenantry.transports.rest.deps import ClientDep, ContainerDep
from tenantry.transports.rest.idempotency import CreateOnceDep, replayed
from tenantry.transports.rest.openapi import problems
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.rest.schemas.registrations import RegistrationCreate

router = PrefixedRouter(prefix="/v1/registrations", tags=["registrations"])


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RegistrationView,
    responses=problems(429, 503),
)
async def register(
    body: RegistrationCreate, container: ContainerDep, once: CreateOnceDep, client: ClientDep
) -> Response:
    """Mails a code; `POST /v1/auth/confirm` with it completes the registration."""
    outcome = await container.registrations.register(
        tenant_name=body.tenant_name.strip() or body.tenant_name,
        email=body.email,
        name=body.name,
        password=body.password,
        plan_id=body.plan,
        client=client,
        key=once.key_claim(body, user_id=key_scope(body.email), answer=_body),
    )
    if isinstance(outcome, StoredResponse):
        return replayed(outcome)
    return JSONResponse(_body(outcome), status_code=status.HTTP_202_ACCEPTED)


def _body(registration: RegistrationView) -> Any:
    return registration.model_dump(mode="json")


@router.get("/{registration_id}")
async def read_registration(
    registration_id: uuid.UUID, container: ContainerDep
) -> RegistrationView:
    return await container.registrations.get(registration_id)
