"""Self-service tenant registration (SPEC §8). Anonymous: the registration id is an
unguessable handle its registrant polls."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from tenantry.transports.rest.deps import ContainerDep
from tenantry.transports.rest.schemas.registrations import RegistrationCreate, RegistrationRead

router = APIRouter(prefix="/v1/registrations", tags=["registrations"])


@router.post("", status_code=status.HTTP_202_ACCEPTED)
async def register(body: RegistrationCreate, container: ContainerDep) -> RegistrationRead:
    """Mails a code; `POST /v1/auth/confirm` with it completes the registration."""
    registration = await container.registrations.register(
        tenant_name=body.tenant_name.strip() or body.tenant_name,
        email=body.email,
        name=body.name,
        password=body.password,
        plan_id=body.plan,
    )
    return RegistrationRead.model_validate(registration)


@router.get("/{registration_id}")
async def read_registration(
    registration_id: uuid.UUID, container: ContainerDep
) -> RegistrationRead:
    return RegistrationRead.model_validate(await container.registrations.get(registration_id))
