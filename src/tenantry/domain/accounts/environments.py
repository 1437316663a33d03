"""A project's environments (SPEC §6): slugs, public client keys and the copy-paste snippet that
carries them. Any member reads them, editors change them, admins rotate keys. Every query is
scoped by the actor's tenant and the project. The project lookup lives here, not in projects,
because projects build on environments: a new project gets the default ones."""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import overload

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.clock import Clock
from tenantry.domain.accounts.capabilities import EDIT_PROJECTS, ROTATE_KEYS
from tenantry.domain.accounts.roles import TenantActor
from tenantry.domain.accounts.tenants import lock_tenant
from tenantry.domain.audit import record_audit
from tenantry.domain.dataplane import cleanup
from tenantry.domain.dataplane.units import TenantData
from tenantry.domain.events.outbox import Event, record_events
from tenantry.domain.idempotency import KeyClaim, StoredResponse, answer_once
from tenantry.domain.names import SLUG_MAX_LENGTH, SLUG_PATTERN
from tenantry.domain.pagination import Page, PageRequest, make_page, paginate
from tenantry.domain.plans.catalog import PlanCatalog
from tenantry.domain.readmodel import ReadModel
from tenantry.errors import Conflict, DomainError, InvalidInput, NotFound
from tenantry.storage.database import Database
from tenantry.storage.epoch import bump_access_epoch
from tenantry.storage.models import Environment, Project

DEFAULT_ENVIRONMENTS = (("Development", "development"), ("Production", "production"))


def new_client_key() -> str:
    return f"ck_{secrets.token_urlsafe(18)}"


def snippet(*, public_url: str, client_key: str) -> str:
    return f'<script src="{public_url}/sdk.js" data-client-key="{client_key}" async></script>'


class EnvironmentView(ReadModel):
    id: uuid.UUID
    name: str
    slug: str
    client_key: str
    snippet: str
    created_at: datetime

    @classmethod
    def of(cls, environment: Environment, *, public_url: str) -> EnvironmentView:
        """The environment with the script tag that installs its client key."""
        return cls(
            id=environment.id,
            name=environment.name,
            slug=environment.slug,
            client_key=environment.client_key,
            snippet=snippet(public_url=public_url, client_key=environment.client_key),
            created_at=environment.created_at,
        )


def slug_for(name: str, slug: str | None = None) -> str:
    """`slug` if it is valid, else one made from `name` ("Staging EU" -> "staging-eu")."""
    if slug is None:
        ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
        slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
        slug = slug[:SLUG_MAX_LENGTH].rstrip("-")
        if not slug:
            raise InvalidInput(
                "The name has no letters or digits to make a slug from; send a slug.",
                code="invalid_slug",
            )
    if not re.fullmatch(SLUG_PATTERN, slug):
        raise InvalidInput(f"A slug must match {SLUG_PATTERN}.", code="invalid_slug")
    return slug


async def project_row_or_raise(
    session: AsyncSession, *, tenant_id: uuid.UUID, project_id: uuid.UUID, lock: bool = False
) -> Project:
    """The project row; with `lock`, locked until the transaction ends, so it cannot be deleted
    under a change, a new environment or a team link."""
    statement = select(Project).where(Project.id == project_id, Project.tenant_id == tenant_id)
    project = await session.scalar(statement.with_for_update() if lock else statement)
    if project is None:
        raise NotFound("No such project in this tenant.", code="project_not_found")
    return project


async def add_environments(
    session: AsyncSession,
    *,
    actor: TenantActor,
    project_id: uuid.UUID,
    names_and_slugs: tuple[tuple[str, str], ...],
    now: datetime,
) -> list[Environment]:
    """Insert environments with fresh client keys and their `environment.created` events; the
    caller has checked the project, the slugs and the plan."""
    environments = [
        Environment(
            id=uuid.uuid4(),
            tenant_id=actor.tenant_id,
            project_id=project_id,
            name=name,
            slug=slug,
            client_key=new_client_key(),
            created_at=now,
            updated_at=now,
        )
        for name, slug in names_and_slugs
    ]
    session.add_all(environments)
    await session.flush()
    events = [
        Event(
            "environment.created",
            actor.tenant_id,
            actor.user_id,
            {"project_id": str(project_id), "environment_id": str(env.id), "slug": env.slug},
        )
        for env in environments
    ]
    await record_events(session, events, now=now)
    return environments


async def list_environments(
    session: AsyncSession, *, actor: TenantActor, project_id: uuid.UUID, page: PageRequest
) -> Page[Environment]:
    await project_row_or_raise(session, tenant_id=actor.tenant_id, project_id=project_id)
    statement = paginate(
        select(Environment).where(
            Environment.tenant_id == actor.tenant_id, Environment.project_id == project_id
        ),
        page,
        created_at=Environment.created_at,
        row_id=Environment.id,
    )
    rows = list(await session.scalars(statement))
    return make_page(rows, page, key=lambda env: (env.created_at, env.id))


async def get_environment_or_raise(
    session: AsyncSession,
    *,
    actor: TenantActor,
    project_id: uuid.UUID,
    environment_id: uuid.UUID,
    lock: bool = False,
) -> Environment:
    """The environment; with `lock`, locked until the transaction ends, so a change to it
    cannot race its deletion."""
    statement = select(Environment).where(
        Environment.tenant_id == actor.tenant_id,
        Environment.project_id == project_id,
        Environment.id == environment_id,
    )
    environment = await session.scalar(statement.with_for_update() if lock else statement)
    if environment is None:
        raise _environment_not_found()
    return environment


class Environments:
    """The environments service: each method is one unit of work, a deletion also the cleanup
    of the tenant's data store after it."""

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        plans: PlanCatalog,
        tenant_data: TenantData,
        public_url: str,
    ) -> None:
        self._db = db
        self._clock = clock
        self._plans = plans
        self._tenant_data = tenant_data
        self._public_url = public_url

    def _view(self, environment: Environment) -> EnvironmentView:
        return EnvironmentView.of(environment, public_url=self._public_url)

    async def of_project(
        self, *, actor: TenantActor, project_id: uuid.UUID, page: PageRequest
    ) -> Page[EnvironmentView]:
        async with self._db.read() as session:
            found = await list_environments(session, actor=actor, project_id=project_id, page=page)
        return Page([self._view(row) for row in found.items], found.next_cursor)

    async def first_of_projects(
        self, *, wanted: Sequence[tuple[TenantActor, uuid.UUID, int]]
    ) -> list[list[EnvironmentView] | DomainError]:
        """For each (actor, project, limit), the project's first `limit` environments, all
        read in one session; a refusal (no such project) answers its own entry only."""
        results: list[list[EnvironmentView] | DomainError] = []
        async with self._db.read() as session:
            for actor, project_id, limit in wanted:
                try:
                    found = await list_environments(
                        session, actor=actor, project_id=project_id, page=PageRequest(limit)
                    )
                except DomainError as error:
                    results.append(error)
                else:
                    results.append([self._view(row) for row in found.items])
        return results

    async def get(
        self, *, actor: TenantActor, project_id: uuid.UUID, environment_id: uuid.UUID
    ) -> EnvironmentView:
        async with self._db.read() as session:
            environment = await get_environment_or_raise(
                session, actor=actor, project_id=project_id, environment_id=environment_id
            )
            return self._view(environment)

    @overload
    async def create(
        self,
        *,
        actor: TenantActor,
        project_id: uuid.UUID,
        name: str,
        slug: str | None,
        key: None = None,
    ) -> EnvironmentView: ...

    @overload
    async def create(
        self,
        *,
        actor: TenantActor,
        project_id: uuid.UUID,
        name: str,
        slug: str | None,
        key: KeyClaim[EnvironmentView],
    ) -> EnvironmentView | StoredResponse: ...

    async def create(
        self,
        *,
        actor: TenantActor,
        project_id: uuid.UUID,
        name: str,
        slug: str | None,
        key: KeyClaim[EnvironmentView] | None = None,
    ) -> EnvironmentView | StoredResponse:
        """A new environment, within the plan's `environments_per_project` limit; the slug
        (made from the name when absent) is unique in the project. With an Idempotency-Key, a
        repeat gets the first answer back as a `StoredResponse`."""
        async with self._db.transaction() as session:
            now = self._clock.now()
            work = partial(self._create, session, actor, project_id, name=name, slug=slug, now=now)
            return await answer_once(session, key, work, now=now)

    async def _create(
        self,
        session: AsyncSession,
        actor: TenantActor,
        project_id: uuid.UUID,
        *,
        name: str,
        slug: str | None,
        now: datetime,
    ) -> EnvironmentView:
        actor.require(EDIT_PROJECTS)
        slug = slug_for(name, slug)
        tenant = await lock_tenant(session, actor.tenant_id)
        await project_row_or_raise(
            session, tenant_id=actor.tenant_id, project_id=project_id, lock=True
        )
        slugs = set(
            await session.scalars(
                select(Environment.slug).where(Environment.project_id == project_id)
            )
        )
        if slug in slugs:
            raise Conflict(
                f"This project already has an environment {slug!r}.",
                code="environment_slug_taken",
            )
        self._plans.of_tenant(tenant.plan).check_limit("environments_per_project", used=len(slugs))
        [environment] = await add_environments(
            session, actor=actor, project_id=project_id, names_and_slugs=((name, slug),), now=now
        )
        return self._view(environment)

    async def rename(
        self,
        *,
        actor: TenantActor,
        project_id: uuid.UUID,
        environment_id: uuid.UUID,
        name: str | None,
    ) -> EnvironmentView:
        """Rename only: the slug and the key are what installed snippets and clients rely
        on."""
        actor.require(EDIT_PROJECTS)
        async with self._db.transaction() as session:
            environment = await _locked(session, actor, project_id, environment_id)
            if name is not None and name != environment.name:
                now = self._clock.now()
                environment.name, environment.updated_at = name, now
                await session.flush()
                target = (project_id, environment_id)
                await _audit(session, actor, "environment.updated", target, {"name": name}, now=now)
            return self._view(environment)

    async def rotate_key(
        self, *, actor: TenantActor, project_id: uuid.UUID, environment_id: uuid.UUID
    ) -> EnvironmentView:
        """Replace the environment's client key (admins); the old one stops matching at
        commit."""
        actor.require(ROTATE_KEYS)
        async with self._db.transaction() as session:
            environment = await _locked(session, actor, project_id, environment_id)
            now = self._clock.now()
            environment.client_key, environment.updated_at = new_client_key(), now
            await session.flush()
            await bump_access_epoch(session)  # processes cache key -> environment (collection)
            target = (project_id, environment_id)
            await _audit(session, actor, "environment.key_rotated", target, {}, now=now)
            return self._view(environment)

    async def delete(
        self, *, actor: TenantActor, project_id: uuid.UUID, environment_id: uuid.UUID
    ) -> None:
        """Delete the environment: its client key stops collecting at commit, and then its
        deployments and collected events go from the tenant's data store."""
        actor.require(EDIT_PROJECTS)
        async with self._db.transaction() as session:
            connection = await session.connection()
            deleted = await connection.execute(
                delete(Environment).where(
                    Environment.tenant_id == actor.tenant_id,
                    Environment.project_id == project_id,
                    Environment.id == environment_id,
                )
            )
            if deleted.rowcount == 0:
                raise _environment_not_found()
            await bump_access_epoch(session)  # its client key stops collecting now
            target = (project_id, environment_id)
            await _audit(session, actor, "environment.deleted", target, {}, now=self._clock.now())
        async with self._tenant_data.unit(actor.tenant_id, write=True) as data:
            await cleanup.forget_environment(data, environment_id)


async def _locked(
    session: AsyncSession, actor: TenantActor, project_id: uuid.UUID, environment_id: uuid.UUID
) -> Environment:
    """The environment, locked for the change about to be made to it."""
    return await get_environment_or_raise(
        session, actor=actor, project_id=project_id, environment_id=environment_id, lock=True
    )


async def _audit(
    session: AsyncSession,
    actor: TenantActor,
    action: str,
    target: tuple[uuid.UUID, uuid.UUID],
    data: dict[str, str],
    *,
    now: datetime,
) -> None:
    """`target`: (project id, environment id). Never the client key."""
    project_id, environment_id = target
    await record_audit(
        session,
        action=action,
        tenant_id=actor.tenant_id,
        actor_id=actor.user_id,
        target_type="environment",
        target_id=str(environment_id),
        data={"project_id": str(project_id), **data},
        now=now,
    )


def _environment_not_found() -> NotFound:
    return NotFound("No such environment in this project.", code="environment_not_found")
