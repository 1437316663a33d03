"""Secrets at rest under the master key, and `tenantry keys rotate-master`: every sealed value
re-encrypted in one transaction, outstanding codes and tokens kept, crashes settled at start."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import delete, select, update
from typer.testing import CliRunner, Result

from tenantry.bootstrap import Container
from tenantry.domain.identity.masterkey import (
    MASTER_KEY_FILE,
    NEXT_KEY_FILE,
    PREVIOUS_KEY_FILE,
    SecretBox,
    derive_key,
    new_master_key,
    read_key_file,
    stretch,
    write_next_key,
)
from tenantry.domain.identity.secrets import SecretHasher
from tenantry.domain.sealing import (
    SEALED_COLUMNS,
    MasterKeyMismatch,
    SealedColumn,
    master_key_rotation,
    rotate_master_key,
)
from tenantry.settings import Settings
from tenantry.storage.database import Database
from tenantry.storage.models import IdempotencyRecord, SealedSecret, StoreMove, Tenant
from tenantry.transports.cli.main import app as cli
from tenantry.transports.rest.app import create_app
from tests.support.api import (
    PASSWORD,
    Account,
    bearer,
    create_organization,
    mailed_invitation_token,
    register,
)
from tests.support.clock import ShiftableClock
from tests.support.mailbox import Mailbox
from tests.support.plans import move_to_plan
from tests.support.server import settings_environment

pytestmark = pytest.mark.integration

INVITE = {"email": "bob@example.com", "role": "viewer"}
Sealed = dict[tuple[SealedColumn, tuple[object, ...]], bytes]


class SimulatedCrash(Exception):
    """The process dies here."""


@pytest.fixture
def file_settings(settings: Settings) -> Settings:
    """The same deployment with its master key in `<data dir>/master.key`."""
    return settings.model_copy(update={"master_key": None})


@asynccontextmanager
async def running(
    settings: Settings, clock: ShiftableClock, *, workers: bool = True
) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    """A started container (a server process) and an API client on it."""
    container = Container(settings, clock=clock)
    try:
        await container.start(migrate=False, workers=workers)
        transport = httpx.ASGITransport(app=create_app(container))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield container, client
    finally:
        await container.stop()


async def sealed_values(db: Database) -> Sealed:
    """Every registered sealed value, by (column, row keys)."""
    found: Sealed = {}
    async with db.read() as session:
        for column in SEALED_COLUMNS:
            table = column.table
            keys = [table.c[key] for key in column.keys]
            sealed = table.c[column.column]
            rows = await session.execute(select(*keys, sealed).where(sealed.is_not(None)))
            for row in rows:
                found[(column, tuple(row[:-1]))] = row[-1]
    return found


async def assert_sealed_under(db: Database, key: bytes, *, not_under: bytes) -> None:
    """Every registered column holds values, and each opens under `key` and not `not_under`."""
    values = await sealed_values(db)
    assert {column for column, _ in values} == set(SEALED_COLUMNS)
    box, old_box = SecretBox(key), SecretBox(not_under)
    for (column, row_keys), sealed in values.items():
        context = column.context(*row_keys)
        assert box.decrypt(sealed, context=context)
        with pytest.raises(InvalidTag):
            old_box.decrypt(sealed, context=context)


async def seal_silo_locators(container: Container, tenant_id: str) -> None:
    """A silo locator on a tenant (a file that `start(migrate=True)` brings up to date) and
    on its store move."""
    tenant = uuid.UUID(tenant_id)
    now = container.clock.now()
    silo = f"sqlite:///{container.settings.data_dir / 'silo.db'}"
    async with container.db.transaction() as session:
        locator = container.stores.seal(tenant, silo)
        await session.execute(
            update(Tenant).where(Tenant.id == tenant).values(silo_locator_sealed=locator)
        )
        session.add(
            StoreMove(
                tenant_id=tenant,
                target="pool",
                target_plan="free",
                state="switched",
                old_silo_locator_sealed=container.stores.seal(tenant, "sqlite:///gone.db"),
                created_at=now,
                updated_at=now,
            )
        )


async def invite_bob(client: httpx.AsyncClient, ann: Account, tenant_id: str) -> httpx.Response:
    headers = {**ann.headers(tenant_id), "Idempotency-Key": "invite-bob"}
    return await client.post("/v1/invitations", headers=headers, json=INVITE)


async def outstanding_secrets(
    client: httpx.AsyncClient, container: Container, mailbox: Mailbox
) -> tuple[Account, str, httpx.Response, str, str]:
    """Ann's session, an idempotent invitation of Bob, Bob's unused sign-up code and
    invitation token, and a value in every sealed column (a webhook secret among them)."""
    ann = await register(client, mailbox, "ann@example.com")
    acme = await create_organization(client, ann, "Acme")
    await move_to_plan(container, acme, "basic")  # the cheapest plan with webhooks
    signup = {"email": "bob@example.com", "password": PASSWORD}
    assert (await client.post("/v1/auth/signup", json=signup)).status_code == 202
    code = await mailbox.code_for("bob@example.com")
    invited = await invite_bob(client, ann, acme)
    assert invited.status_code == 201, invited.text
    token = await mailed_invitation_token(mailbox, "bob@example.com")
    await seal_silo_locators(container, await create_organization(client, ann, "Silo"))
    # A public address literal (no DNS here) for an event this test never causes.
    hook = {"url": "https://93.184.215.14/hook", "events": ["billing.payment_received"]}
    subscribed = await client.post("/v1/webhook-endpoints", headers=ann.headers(acme), json=hook)
    assert subscribed.status_code == 201, subscribed.text
    return ann, acme, invited, code, token


async def test_rotation_reseals_everything_and_outstanding_secrets_survive(
    file_settings: Settings, clock: ShiftableClock, mailbox: Mailbox
) -> None:
    data_dir = file_settings.data_dir
    async with running(file_settings, clock) as (before, client):
        ann, acme, invited, code, token = await outstanding_secrets(client, before, mailbox)
        old_key = before.box.master_key
        count = await rotate_master_key(
            before.db, before.box, new_key=new_master_key(), data_dir=data_dir
        )
        new_key = read_key_file(data_dir / MASTER_KEY_FILE)
        assert new_key is not None and new_key != old_key
        assert count == len(await sealed_values(before.db))
        await assert_sealed_under(before.db, new_key, not_under=old_key)
    assert read_key_file(data_dir / PREVIOUS_KEY_FILE) == old_key
    assert not (data_dir / NEXT_KEY_FILE).exists()
    assert (data_dir / MASTER_KEY_FILE).stat().st_mode & 0o777 == 0o600

    async with running(file_settings, clock, workers=False) as (after, client):
        assert after.box.master_key == new_key
        # A value a server not yet restarted sealed with the old key still opens.
        stale = SecretBox(old_key).encrypt(b"late write", context="c")
        assert after.box.decrypt(stale, context="c") == b"late write"
        refreshed = await client.post("/v1/auth/refresh", json={"refresh_token": ann.refresh_token})
        assert refreshed.status_code == 200, refreshed.text
        login = {"email": ann.email, "password": ann.password}
        logged_in = await client.post("/v1/auth/login", json=login)
        assert logged_in.status_code == 200, logged_in.text
        for access_token in (ann.access_token, logged_in.json()["access_token"]):
            assert (await client.get("/v1/me", headers=bearer(access_token))).status_code == 200
        replayed = await invite_bob(client, ann, acme)
        assert (replayed.status_code, replayed.json()) == (201, invited.json())
        assert replayed.headers["Idempotent-Replayed"] == "true"
        confirmed = await client.post(
            "/v1/auth/confirm", json={"email": "bob@example.com", "code": code}
        )
        assert confirmed.status_code == 200, confirmed.text
        accepted = await client.post(
            "/v1/invitations/accept",
            headers=bearer(confirmed.json()["access_token"]),
            json={"token": token},
        )
        assert accepted.status_code == 200, accepted.text


async def test_a_crash_after_the_commit_is_finished_at_the_next_start(
    file_settings: Settings,
    clock: ShiftableClock,
    mailbox: Mailbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data_dir, new_key = file_settings.data_dir, new_master_key()
    async with running(file_settings, clock) as (container, client):
        ann, *_ = await outstanding_secrets(client, container, mailbox)
        old_key = container.box.master_key
        with monkeypatch.context() as patched:
            patched.setattr(master_key_rotation, "promote_next_key", crash)
            with pytest.raises(SimulatedCrash):
                await rotate_master_key(
                    container.db, container.box, new_key=new_key, data_dir=data_dir
                )
    assert read_key_file(data_dir / MASTER_KEY_FILE) == old_key
    assert read_key_file(data_dir / NEXT_KEY_FILE) == new_key

    async with running(file_settings, clock, workers=False) as (restarted, client):
        assert restarted.box.master_key == new_key
        refreshed = await client.post("/v1/auth/refresh", json={"refresh_token": ann.refresh_token})
        assert refreshed.status_code == 200, refreshed.text
        await assert_sealed_under(restarted.db, new_key, not_under=old_key)
    assert read_key_file(data_dir / MASTER_KEY_FILE) == new_key
    assert read_key_file(data_dir / PREVIOUS_KEY_FILE) == old_key
    assert not (data_dir / NEXT_KEY_FILE).exists()


async def test_a_crash_before_the_commit_discards_the_staged_key(
    file_settings: Settings,
    clock: ShiftableClock,
    mailbox: Mailbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data_dir = file_settings.data_dir

    def stage_then_crash(directory: Path, key: bytes) -> None:
        write_next_key(directory, key)
        raise SimulatedCrash

    async with running(file_settings, clock) as (container, client):
        await outstanding_secrets(client, container, mailbox)
        old_key = container.box.master_key
        with monkeypatch.context() as patched:
            patched.setattr(master_key_rotation, "write_next_key", stage_then_crash)
            with pytest.raises(SimulatedCrash):
                await rotate_master_key(
                    container.db, container.box, new_key=new_master_key(), data_dir=data_dir
                )
    assert (data_dir / NEXT_KEY_FILE).exists()

    async with running(file_settings, clock, workers=False) as (restarted, _client):
        assert restarted.box.master_key == old_key
        await assert_sealed_under(restarted.db, old_key, not_under=new_master_key())
    assert read_key_file(data_dir / MASTER_KEY_FILE) == old_key
    assert not (data_dir / NEXT_KEY_FILE).exists()
    assert not (data_dir / PREVIOUS_KEY_FILE).exists()


def crash(_data_dir: Path) -> None:
    raise SimulatedCrash


async def invoke(
    settings: Settings, *args: str, master_key: str | None, stdin: str | None = None
) -> Result:
    """`tenantry <args>` through Typer's runner, on a thread: the command runs its own loop."""
    environment: Mapping[str, str | None] = {
        **settings_environment(settings),
        "TENANTRY_MASTER_KEY": master_key,
    }
    runner = CliRunner()
    return await asyncio.to_thread(
        lambda: runner.invoke(cli, list(args), env=environment, input=stdin)
    )


async def test_a_tampered_value_makes_rotation_refuse_and_change_nothing(
    file_settings: Settings, clock: ShiftableClock, mailbox: Mailbox
) -> None:
    data_dir = file_settings.data_dir
    async with running(file_settings, clock) as (container, client):
        await outstanding_secrets(client, container, mailbox)
        async with container.db.transaction() as session:
            record = await session.scalar(select(IdempotencyRecord))
            assert record is not None and record.sealed_body is not None
            record.sealed_body = record.sealed_body[:-1] + bytes([record.sealed_body[-1] ^ 1])
        before, key_file = await sealed_values(container.db), (data_dir / MASTER_KEY_FILE)
        old_key = key_file.read_bytes()

        result = await invoke(file_settings, "keys", "rotate-master", master_key=None)

        assert result.exit_code == 1, result.output
        assert "sealed_value_unreadable" in result.stderr
        assert "idempotency_records.sealed_body" in result.stderr
        assert await sealed_values(container.db) == before
    assert key_file.read_bytes() == old_key
    assert not (data_dir / NEXT_KEY_FILE).exists()
    assert not (data_dir / PREVIOUS_KEY_FILE).exists()


@pytest.mark.parametrize("given", ["option", "prompt"])
async def test_a_configured_key_is_rotated_to_the_key_given(
    settings: Settings,
    container: Container,
    client: httpx.AsyncClient,
    clock: ShiftableClock,
    mailbox: Mailbox,
    given: str,
) -> None:
    assert settings.master_key is not None
    ann, *_ = await outstanding_secrets(client, container, mailbox)
    args, stdin = ["--new-key", "the rotated key"], None
    if given == "prompt":
        args, stdin = [], "the rotated key\nthe rotated key\n"

    result = await invoke(
        settings, "keys", "rotate-master", *args, master_key=settings.master_key, stdin=stdin
    )

    assert result.exit_code == 0, result.output
    assert "set TENANTRY_MASTER_KEY to the new key" in result.stdout
    assert "the rotated key" not in result.output
    new_key, old_key = stretch("the rotated key"), stretch(settings.master_key)
    await assert_sealed_under(container.db, new_key, not_under=old_key)
    assert not (settings.data_dir / NEXT_KEY_FILE).exists()
    with pytest.raises(MasterKeyMismatch):
        async with running(settings, clock, workers=False):
            pass
    rotated = settings.model_copy(update={"master_key": "the rotated key"})
    async with running(rotated, clock, workers=False) as (_restarted, restarted_client):
        refreshed = await restarted_client.post(
            "/v1/auth/refresh", json={"refresh_token": ann.refresh_token}
        )
        assert refreshed.status_code == 200, refreshed.text


async def test_a_data_dir_key_takes_no_new_key_option(file_settings: Settings) -> None:
    result = await invoke(
        file_settings, "keys", "rotate-master", "--new-key", "mine", master_key=None
    )
    assert result.exit_code == 1
    assert "--new-key is for a key set in TENANTRY_MASTER_KEY" in result.stderr
    assert not (file_settings.data_dir / MASTER_KEY_FILE).exists()


async def test_a_new_database_gets_a_random_hashing_key(
    settings: Settings, container: Container
) -> None:
    assert settings.master_key is not None
    legacy = SecretHasher(derive_key(stretch(settings.master_key), "tenantry/one-time-codes"))
    assert container.code_hasher.digest("x") != legacy.digest("x")


async def test_an_install_from_before_the_hashing_key_keeps_its_hashes(
    settings: Settings,
    container: Container,
    client: httpx.AsyncClient,
    clock: ShiftableClock,
) -> None:
    """The hashing key of a database that already holds keyed hashes is the master key, from
    which those hashes' keys were derived."""
    assert settings.master_key is not None
    signup = {"email": "carol@example.com", "password": PASSWORD}
    assert (await client.post("/v1/auth/signup", json=signup)).status_code == 202
    async with container.db.transaction() as session:
        await session.execute(delete(SealedSecret))

    async with running(settings, clock, workers=False) as (upgraded, _client):
        master_key = stretch(settings.master_key)
        for hasher, purpose in (
            (upgraded.code_hasher, "tenantry/one-time-codes"),
            (upgraded.invitation_hasher, "tenantry/invitation-tokens"),
        ):
            legacy = SecretHasher(derive_key(master_key, purpose))
            assert hasher.digest("confirm", "carol@example.com", "123456") == legacy.digest(
                "confirm", "carol@example.com", "123456"
            )
