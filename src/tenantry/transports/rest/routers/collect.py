"""Collection (SPEC §10): `POST /v1/collect` for browsers and apps holding a client key, the
environment's event list for its tenant, and `GET /sdk.js`, the script the snippet loads.
CORS for `/v1/collect` is in `transports/rest/cors.py`."""

from __future__ import annotations

import uuid
from importlib.resources import files

from fastapi import APIRouter, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from tenantry.domain.dataplane.collection import EventView
from tenantry.transports.rest.bodies import read_limited
from tenantry.transports.rest.deps import ContainerDep, PageDep, TenantDep
from tenantry.transports.rest.openapi import problems
from tenantry.transports.rest.schemas.collect import EventAccepted, EventCreate
from tenantry.transports.rest.schemas.common import Page

router = APIRouter(tags=["collection"])
MAX_BODY_BYTES = 16 * 1024
# `text/plain` carrying JSON is accepted, and the key in `?client_key=` when no X-Client-Key
# header came, so `navigator.sendBeacon` (which can set neither) works as a CORS "simple"
# request, without a preflight.
JSON_MEDIA_TYPES = frozenset({"application/json", "text/plain"})
SDK = files("tenantry.transports.rest").joinpath("static/sdk.js").read_bytes()
SDK_CACHE = "public, max-age=300"
_BODY_SCHEMA = {
    "required": True,
    "content": {"application/json": {"schema": EventCreate.model_json_schema()}},
}


@router.post(
    "/v1/collect",
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra={"requestBody": _BODY_SCHEMA},
    # The body is read by hand (above the size limit, not at all without a key), so FastAPI
    # cannot see what it may answer.
    responses=problems(400, 401, 403, 408, 409, 413, 415, 422, 429),
)
async def collect_event(request: Request, container: ContainerDep) -> EventAccepted:
    """Store one event for the environment of `X-Client-Key`; 202 once it is committed."""
    client_key = _client_key(request)
    await container.collector.owner_of(client_key)  # refused before the body is read
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type not in JSON_MEDIA_TYPES:
        raise HTTPException(415, "Send the event as application/json.")
    body = await read_limited(request, limit=MAX_BODY_BYTES, what="An event")
    try:
        event = EventCreate.model_validate_json(body)
    except ValidationError as error:
        raise RequestValidationError(error.errors(include_url=False)) from None
    event_id = await container.collector.collect(
        client_key=client_key,
        type=event.type,
        data=event.data,
        experiment_id=event.experiment_id,
    )
    return EventAccepted(id=event_id)


def _client_key(request: Request) -> str:
    key = request.headers.get("x-client-key") or request.query_params.get("client_key") or ""
    return key.strip()


@router.get("/v1/projects/{project_id}/environments/{environment_id}/events")
async def read_events(
    project_id: uuid.UUID,
    environment_id: uuid.UUID,
    container: ContainerDep,
    tenant: TenantDep,
    page: PageDep,
) -> Page[EventView]:
    """The environment's events, newest first, read from the tenant's own store."""
    found = await container.collector.events(
        actor=tenant.actor, project_id=project_id, environment_id=environment_id, page=page
    )
    return Page[EventView].model_validate(found, from_attributes=True)


@router.get("/sdk.js", include_in_schema=False)
async def sdk() -> Response:
    return Response(SDK, media_type="application/javascript", headers={"Cache-Control": SDK_CACHE})
