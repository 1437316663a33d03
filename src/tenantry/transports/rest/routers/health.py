"""Liveness, readiness and metrics."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from tenantry.errors import Unavailable
from tenantry.transports.rest.deps import ContainerDep

router = APIRouter(tags=["operations"])
# Tells apart the processes behind one address (`serve --workers N`, replicas) when
# diagnosing; random, so it reveals nothing about the host.
INSTANCE = uuid.uuid4().hex[:12]


class DatabaseUnreachable(Unavailable):
    code = "database_unavailable"
    retry_after = 1  # as every other answer during an outage (rest/problems.py)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(container: ContainerDep) -> dict[str, str]:
    try:
        await container.db.ping()
    except Exception as error:  # any failure to reach the database means not ready
        raise DatabaseUnreachable("The database is unreachable.") from error
    return {"status": "ready", "instance": INSTANCE}


@router.get("/metrics", response_class=PlainTextResponse)  # documented as text, not JSON
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
