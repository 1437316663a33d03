"""The `tenantry` command: serve, migrate, manage admins and keys."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
import uvicorn

from tenantry.bootstrap import Container
from tenantry.domain.provider.admins import ensure_platform_admin
from tenantry.errors import DomainError
from tenantry.logs import configure_logging
from tenantry.settings import Settings
from tenantry.storage.migrate import upgrade

T = TypeVar("T")

app = typer.Typer(help="Tenantry: accounts, identity and tenant onboarding.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
admin_app = typer.Typer(help="Platform admins.", no_args_is_help=True)
keys_app = typer.Typer(help="Token signing keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")
app.add_typer(keys_app, name="keys")


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
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
    migrate: Annotated[bool, typer.Option(help="apply migrations before serving")] = True,
) -> None:
    """Serve the API, the web UI and the background workers."""
    settings = Settings()
    configure_logging(level=settings.log_level, json_lines=settings.log_json)
    # Prepare storage and keys once, before the workers start, so they never race to do it.
    _with_container(lambda _container: asyncio.sleep(0)) if migrate else None
    uvicorn.run(
        "tenantry.transports.rest.app:create_served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations."""
    settings = Settings()
    upgrade(settings.effective_database_url)
    typer.echo("database is up to date")


@admin_app.command("create")
def admin_create(
    email: Annotated[str, typer.Option(help="the admin's email")],
    password: Annotated[
        str, typer.Option(help="the admin's password", prompt=True, hide_input=True)
    ],
) -> None:
    """Create (or promote) a platform admin."""

    async def work(container: Container) -> None:
        user_id = await ensure_platform_admin(container.identity, email=email, password=password)
        typer.echo(f"platform admin {email} ({user_id})")

    _with_container(work)


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Make a new signing key current; older public keys stay published until their tokens
    expire."""

    async def work(container: Container) -> None:
        kid = await container.keys.rotate()
        typer.echo(f"new signing key {kid}")

    _with_container(work)
