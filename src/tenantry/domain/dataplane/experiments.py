"""A project's experiments (SPEC §10): created and read in the tenant's data store, tested in
the project's `development` environment before they go live anywhere else. Projects and
environments live in the core database, so each service reads them there first, scoped by the
actor's tenant, then works in the tenant's unit of work, which needs no tenant filter."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.clock import Clock
from tenantry.domain.accounts.environments import project_row_or_raise
from tenantry.domain.accounts.roles import TenantActor
from tenantry.domain.audit import record_audit_apart
from tenantry.domain.dataplane.units import TenantData
from tenantry.domain.idempotency import KeyClaim, StoredResponse, answer_apart
from tenantry.domain.pagination import Page, PageRequest, make_page, paginate
from tenantry.domain.plans.catalog import PlanCatalog
from tenantry.domain.plans.features import require_tenant_feature
from tenantry.domain.readmodel import ReadModel
from tenantry.errors import Conflict, NotFound
from tenantry.storage.database import Database
from tenantry.storage.models import Environment
from tenantry.storage.tenant_models import Experiment, ExperimentDeployment

TESTING_SLUG = "development"


# An environment the experiment is deployed to. (No docstring: it would be the OpenAPI
# schema's description.)
class Live(ReadModel):
    environment_id: uuid.UUID
    slug: str
    deployed_at: datetime


class ExperimentView(ReadModel):
    id: uuid.UUID
    project_id: uuid.UUID
    name: str
    description: str
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    live_in: list[Live]


class Experiments:
    """Projects and environments come from the core database (`db`), experiments from the
    tenant's store; the plans say whether the tenant has the `experiments` feature, which
    creating and deploying need (reading does not: a downgrade keeps the data)."""

    def __init__(
        self, *, db: Database, clock: Clock, tenant_data: TenantData, plans: PlanCatalog
    ) -> None:
        self._db = db
        self._clock = clock
        self._tenant_data = tenant_data
        self._plans = plans

    async def list(
        self, *, actor: TenantActor, project_id: uuid.UUID, page: PageRequest
    ) -> Page[ExperimentView]:
        slugs = await self._environment_slugs(actor, project_id)
        async with self._tenant_data.unit(actor.tenant_id, write=False) as session:
            statement = paginate(
                select(Experiment).where(Experiment.project_id == project_id),
                page,
                created_at=Experiment.created_at,
                row_id=Experiment.id,
            )
            rows = list(await session.scalars(statement))
            found = make_page(rows, page, key=lambda row: (row.created_at, row.id))
            views = await _views(session, found.items, slugs)
        return Page(views, found.next_cursor)

    async def get(
        self, *, actor: TenantActor, project_id: uuid.UUID, experiment_id: uuid.UUID
    ) -> ExperimentView:
        slugs = await self._environment_slugs(actor, project_id)
        async with self._tenant_data.unit(actor.tenant_id, write=False) as session:
            experiment = await _experiment_row_or_raise(session, project_id, experiment_id)
            [view] = await _views(session, [experiment], slugs)
        return view

    async def create(
        self,
        *,
        actor: TenantActor,
        project_id: uuid.UUID,
        name: str,
        description: str,
        key: KeyClaim[ExperimentView] | None = None,
    ) -> ExperimentView | StoredResponse:
        """A new experiment, live nowhere yet; its name is unique in the project. With an
        Idempotency-Key, a repeat gets the first answer back."""

        async def work(experiment_id: uuid.UUID | None) -> ExperimentView:
            return await self._create(actor, project_id, name, description, experiment_id)

        return await answer_apart(self._db, key, work, clock=self._clock)

    async def _create(
        self,
        actor: TenantActor,
        project_id: uuid.UUID,
        name: str,
        description: str,
        experiment_id: uuid.UUID | None,
    ) -> ExperimentView:
        """Given `experiment_id` (a retried request's), the experiment made with it if any."""
        actor.require("editor")
        await self._environment_slugs(actor, project_id, feature="experiments")
        now = self._clock.now()
        experiment = Experiment(
            id=experiment_id or uuid.uuid4(),
            project_id=project_id,
            name=name,
            description=description,
            created_by=actor.user_id,
            created_at=now,
            updated_at=now,
        )
        async with self._tenant_data.unit(actor.tenant_id, write=True) as session:
            made = experiment_id and await session.scalar(
                select(Experiment).where(
                    Experiment.project_id == project_id, Experiment.id == experiment_id
                )
            )
            if made:
                experiment = made
            else:
                await _insert(session, experiment)
            [view] = await _views(session, [experiment], {})
        await self._audit(actor, "experiment.created", view, {"name": name}, now=now)
        return view

    async def deploy(
        self,
        *,
        actor: TenantActor,
        project_id: uuid.UUID,
        experiment_id: uuid.UUID,
        environment_id: uuid.UUID,
    ) -> ExperimentView:
        """Make the experiment live in one of its project's environments. Anywhere but
        `development` it must be live in `development` first; deploying again changes
        nothing."""
        actor.require("editor")
        now = self._clock.now()
        slugs = await self._environment_slugs(actor, project_id, feature="experiments")
        if environment_id not in slugs:
            raise NotFound("No such environment in this project.", code="environment_not_found")
        async with self._tenant_data.unit(actor.tenant_id, write=True) as session:
            # Locked, so parallel deploys of one experiment take turns (SQLite writers always
            # do).
            experiment = await _experiment_row_or_raise(
                session, project_id, experiment_id, lock=True
            )
            deploying = await _deploy(session, actor, experiment, environment_id, slugs, now=now)
            [view] = await _views(session, [experiment], slugs)
        if deploying:
            data = {"environment_id": str(environment_id), "slug": slugs[environment_id]}
            await self._audit(actor, "experiment.deployed", view, data, now=now)
        return view

    async def _audit(
        self,
        actor: TenantActor,
        action: str,
        view: ExperimentView,
        data: dict[str, str],
        *,
        now: datetime,
    ) -> None:
        """Experiments live in the tenant's store: audited in the core database once
        committed."""
        await record_audit_apart(
            self._db,
            action=action,
            tenant_id=actor.tenant_id,
            actor_id=actor.user_id,
            target_type="experiment",
            target_id=str(view.id),
            data={"project_id": str(view.project_id), **data},
            now=now,
        )

    async def _environment_slugs(
        self, actor: TenantActor, project_id: uuid.UUID, *, feature: str | None = None
    ) -> dict[uuid.UUID, str]:
        """The slug of each environment of the project; NotFound `project_not_found` if the
        tenant has no such project, PermissionDenied `feature_not_in_plan` if given a
        `feature` the tenant lacks."""
        async with self._db.read() as session:
            if feature is not None:
                await require_tenant_feature(
                    session, plans=self._plans, tenant_id=actor.tenant_id, feature=feature
                )
            await project_row_or_raise(session, tenant_id=actor.tenant_id, project_id=project_id)
            rows = await session.execute(
                select(Environment.id, Environment.slug).where(
                    Environment.tenant_id == actor.tenant_id,
                    Environment.project_id == project_id,
                )
            )
            return {env_id: slug for env_id, slug in rows}


async def _insert(session: AsyncSession, experiment: Experiment) -> None:
    name = experiment.name
    taken = select(Experiment.id).where(
        Experiment.project_id == experiment.project_id, Experiment.name == name
    )
    if await session.scalar(taken) is not None:
        raise _experiment_exists(name)
    session.add(experiment)
    try:
        await session.flush()
    except IntegrityError:
        # A parallel create took the name between the check and the insert.
        raise _experiment_exists(name) from None


async def _deploy(
    session: AsyncSession,
    actor: TenantActor,
    experiment: Experiment,
    environment_id: uuid.UUID,
    slugs: dict[uuid.UUID, str],
    *,
    now: datetime,
) -> bool:
    """Add the deployment unless the experiment is live there already; whether it was added.
    Conflict `not_tested_in_development` anywhere but there before it is live there."""
    live = {row.environment_id for row in await _deployments(session, [experiment.id])}
    if environment_id in live:
        return False
    testing = {env_id for env_id, slug in slugs.items() if slug == TESTING_SLUG}
    if slugs[environment_id] != TESTING_SLUG and not live & testing:
        raise Conflict(
            f"Deploy the experiment to {TESTING_SLUG!r} before any other environment.",
            code="not_tested_in_development",
        )
    session.add(
        ExperimentDeployment(
            experiment_id=experiment.id,
            environment_id=environment_id,
            deployed_by=actor.user_id,
            deployed_at=now,
        )
    )
    await session.flush()
    return True


async def _experiment_row_or_raise(
    session: AsyncSession, project_id: uuid.UUID, experiment_id: uuid.UUID, *, lock: bool = False
) -> Experiment:
    statement = select(Experiment).where(
        Experiment.project_id == project_id, Experiment.id == experiment_id
    )
    experiment = await session.scalar(statement.with_for_update() if lock else statement)
    if experiment is None:
        raise NotFound("No such experiment in this project.", code="experiment_not_found")
    return experiment


async def _deployments(
    session: AsyncSession, experiment_ids: list[uuid.UUID]
) -> list[ExperimentDeployment]:
    statement = (
        select(ExperimentDeployment)
        .where(ExperimentDeployment.experiment_id.in_(experiment_ids))
        .order_by(ExperimentDeployment.deployed_at, ExperimentDeployment.environment_id)
    )
    return list(await session.scalars(statement))


async def _views(
    session: AsyncSession, experiments: list[Experiment], slugs: dict[uuid.UUID, str]
) -> list[ExperimentView]:
    """The experiments with where they are live, read in one query. A deployment to an
    environment deleted since (it lives in another database) is not shown."""
    live: dict[uuid.UUID, list[Live]] = {experiment.id: [] for experiment in experiments}
    if experiments:
        for row in await _deployments(session, list(live)):
            if row.environment_id in slugs:
                slug = slugs[row.environment_id]
                live[row.experiment_id].append(
                    Live(environment_id=row.environment_id, slug=slug, deployed_at=row.deployed_at)
                )
    return [
        ExperimentView(
            id=e.id,
            project_id=e.project_id,
            name=e.name,
            description=e.description,
            created_by=e.created_by,
            created_at=e.created_at,
            updated_at=e.updated_at,
            live_in=live[e.id],
        )
        for e in experiments
    ]


def _experiment_exists(name: str) -> Conflict:
    return Conflict(
        f"This project already has an experiment named {name!r}.", code="experiment_exists"
    )
