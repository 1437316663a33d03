"""The `tenantry` command: serve, migrate, manage admins and keys."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Annotated, NoReturn, TypeVar

import typer
import uvicorn

from tenantry.bootstrap import Container
from tenantry.domain.identity.addresses import normalize_email
from tenantry.domain.identity.masterkey import new_master_key, stretch
from tenantry.domain.provider.admins import ensure_platform_admin
from tenantry.domain.sealing import rotate_master_key
from tenantry.errors import DomainError
from tenantry.logs import configure_logging
from tenantry.seeding import SEED_PASSWORD, SeedCounts, seed, seed_email
from tenantry.settings import Settings, listen_address
from tenantry.transports.cli.admin_listener import AdminListenerFailed, admin_listener
from tenantry.transports.cli.listener_options import LISTENER_OPTIONS

T = TypeVar("T")

app = typer.Typer(help="Tenantry: accounts, identity and tenant onboarding.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
admin_app = typer.Typer(help="Platform admins.", no_args_is_help=True)
keys_app = typer.Typer(help="Token signing keys and the master key.", no_args_is_help=True)
dev_app = typer.Typer(help="Development and benchmarking aids.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")
app.add_typer(keys_app, name="keys")
app.add_typer(dev_app, name="dev")


def _with_container(work: Callable[[Container], Awaitable[T]]) -> T:
    async def run() -> T:
        container = Container(Settings())
        try:
            await container.start(migrate=True, workers=False)
            return await work(container)
        finally:
            await container.stop()

    try:
        return asyncio.run(run())
    except DomainError as error:
        typer.echo(f"error ({error.code}): {error.detail}", err=True)
        raise typer.Exit(code=1) from error


@app.command()
def worker() -> None:
    """Run only the background work (mail, webhook deliveries, clean-ups), for deployments
    that keep it apart from the API processes; any number may run beside `serve`."""
    settings = Settings()
    configure_logging(level=settings.log_level, json_lines=settings.log_json)

    async def run() -> None:
        stopping = asyncio.Event()
        for stop_signal in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(stop_signal, stopping.set)
        container = Container(settings)
        await container.start(migrate=True, workers=True)
        try:
            await stopping.wait()
        finally:
            await container.stop()

    asyncio.run(run())


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
    migrate: Annotated[bool, typer.Option(help="apply migrations before serving")] = True,
    admin_listen: Annotated[
        str | None,
        typer.Option(
            help="HOST:PORT: serve the /v1/admin routes there only, not on the public "
            "listener [env TENANTRY_ADMIN_LISTEN]"
        ),
    ] = None,
) -> None:
    """Serve the API, the web UI and the background workers."""
    if admin_listen is not None:
        try:
            listen_address(admin_listen)
        except ValueError as error:
            raise typer.BadParameter(str(error), param_hint="--admin-listen") from error
        # The workers build their apps from the environment: this leaves the admin routes out.
        os.environ["TENANTRY_ADMIN_LISTEN"] = admin_listen
    settings = Settings()
    configure_logging(level=settings.log_level, json_lines=settings.log_json)
    # Prepare storage and keys once, before the workers start, so they never race to do it.
    _with_container(lambda _container: asyncio.sleep(0)) if migrate else None
    try:
        with admin_listener(settings.admin_listen):
            uvicorn.run(
                "tenantry.transports.rest.app:create_served_app",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                **LISTENER_OPTIONS,
            )
    except AdminListenerFailed as error:
        _fail(str(error))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations: the core database (with the pool's tenant data tables) and every
    silo tenant's database."""

    async def work(container: Container) -> int:
        return await container.stores.upgrade_silos()

    silos = _with_container(work)  # starting the container migrates the core database
    typer.echo(f"database is up to date ({silos} silo{'s' if silos != 1 else ''})")


@admin_app.command("create")
def admin_create(
    email: Annotated[str, typer.Option(help="the admin's email")],
    password: Annotated[
        str, typer.Option(help="the admin's password", prompt=True, hide_input=True)
    ],
) -> None:
    """Create (or promote) a platform admin. Without --password, it is asked for (hidden)."""
    try:
        address = normalize_email(email)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--email") from error

    async def work(container: Container) -> None:
        user_id = await ensure_platform_admin(container.identity, email=address, password=password)
        typer.echo(f"platform admin {address} ({user_id})")

    _with_container(work)


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Make a new signing key current; older public keys stay published until their tokens
    expire."""

    async def work(container: Container) -> None:
        kid = await container.keys.rotate()
        typer.echo(f"new signing key {kid}")

    _with_container(work)


@keys_app.command("rotate-master")
def keys_rotate_master(
    new_key: Annotated[
        str | None,
        typer.Option(help="the new TENANTRY_MASTER_KEY (asked for when omitted)"),
    ] = None,
) -> None:
    """Re-encrypt every secret at rest under a new master key, in one transaction.

    With the data-dir key file, a new random key replaces master.key (the old one is kept as
    master.key.previous). With TENANTRY_MASTER_KEY, give the new value (--new-key, or typed at
    the hidden prompt), then set TENANTRY_MASTER_KEY to it. Refused, changing nothing, if any
    stored secret does not open under the current key.

    Running servers keep the old key in memory: restart every one of them afterwards.
    """
    configured = bool(Settings().master_key)
    if not configured and new_key is not None:
        _fail("--new-key is for a key set in TENANTRY_MASTER_KEY; the data-dir key is generated")
    if configured and new_key is None:
        new_key = typer.prompt("New master key", hide_input=True, confirmation_prompt=True)
    if configured and not new_key:
        _fail("the new master key is empty")
    key = stretch(new_key) if new_key else new_master_key()

    async def work(container: Container) -> None:
        data_dir = None if configured else container.settings.data_dir
        count = await rotate_master_key(container.db, container.box, new_key=key, data_dir=data_dir)
        typer.echo(f"re-encrypted {count} sealed values under the new master key")
        if configured:
            typer.echo("now set TENANTRY_MASTER_KEY to the new key and restart every server")
        else:
            typer.echo(f"{data_dir}/master.key replaced (old key in master.key.previous)")
            typer.echo("restart every server: running ones still hold the old key")

    _with_container(work)


@dev_app.command("seed")
def dev_seed(
    users: Annotated[int, typer.Option(min=1, help="users, each with a personal tenant")] = 1000,
    organizations: Annotated[int, typer.Option(min=0, help="organization tenants")] = 100,
    memberships: Annotated[
        int,
        typer.Option(
            min=1,
            help="all memberships: one owner membership per user's personal tenant, the rest "
            "spread evenly over the organizations (each at least its owner)",
        ),
    ] = 3000,
) -> None:
    """Bulk-load synthetic confirmed users, personal tenants, organizations and memberships
    into the (migrated) database, for scale tests: COPY on PostgreSQL. Every user signs in
    as seed-NNNNNNN@seed.example (from 0) with one shared password. Refused if the database
    already holds seeded users."""
    try:
        counts = SeedCounts(users, organizations, memberships)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error

    async def work(container: Container) -> None:
        report = await seed(
            container.db,
            counts,
            passwords=container.passwords,
            plans=container.plans,
            progress=typer.echo,
        )
        typer.echo(
            f"seeded {counts.users:,} users, {counts.organizations:,} organizations and "
            f"{counts.memberships:,} memberships in {report.total_seconds:.1f} s; sign in as "
            f"{seed_email(0)} .. {seed_email(counts.users - 1)} with password "
            f"{SEED_PASSWORD!r}"
        )

    _with_container(work)


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)
