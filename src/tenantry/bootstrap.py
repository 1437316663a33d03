"""The composition root: builds storage, services and background workers from Settings."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial

import httpx
import structlog

from tenantry.clock import Clock
from tenantry.domain.accounts.invitations import Invitations
from tenantry.domain.accounts.tenants import TenantView, read_tenant
from tenantry.domain.accounts.users import Profile, get_profile
from tenantry.domain.caching import CachedReader
from tenantry.domain.idempotency import IdempotencyRecords, purge_expired
from tenantry.domain.identity.access import Authenticator
from tenantry.domain.identity.codes import CodePolicy
from tenantry.domain.identity.deps import IdentityDeps
from tenantry.domain.identity.federation import FederatedTokens
from tenantry.domain.identity.keys import KeyRing
from tenantry.domain.identity.login import LoginFlow
from tenantry.domain.identity.masterkey import SecretBox, derive_key, load_or_create_master_key
from tenantry.domain.identity.passwords import PasswordHasher
from tenantry.domain.identity.recovery import RecoveryFlow
from tenantry.domain.identity.secrets import SecretHasher
from tenantry.domain.identity.signup import SignUpFlow
from tenantry.domain.identity.throttle import LockoutPolicy
from tenantry.domain.identity.tokens import AccessTokens
from tenantry.domain.mail.outbox import MailOutbox
from tenantry.domain.mail.senders import LogSender, MailSender, SmtpSender
from tenantry.domain.mail.worker import MailWorker
from tenantry.domain.plans.catalog import PlanCatalog
from tenantry.domain.provider.provisioning import Provisioner
from tenantry.domain.provider.stores import TenantStores
from tenantry.faults import Faults
from tenantry.settings import Settings
from tenantry.storage.database import Database
from tenantry.storage.migrate import upgrade_async
from tenantry.storage.silos import SiloStores

log = structlog.get_logger("tenantry")
KEY_RELOAD_SECONDS = 60
PURGE_SECONDS = 3600
RECOVERY_SECONDS = 300


async def _repeat(interval: float, job: Callable[[], Awaitable[object]]) -> None:
    """Run `job` every `interval` seconds; a failure is logged and the next run goes ahead
    (a failed key reload keeps the keys we have)."""
    while True:
        await asyncio.sleep(interval)
        try:
            await job()
        except Exception:
            log.exception("periodic_job_failed", job=getattr(job, "__qualname__", repr(job)))


class Container:
    """Everything a process needs, built once. `start()` prepares storage and keys and starts
    the workers; `stop()` ends them."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or Clock()
        self.faults = Faults()
        self.plans = PlanCatalog.load(settings.plans_file)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        master_key = load_or_create_master_key(
            configured=settings.master_key, data_dir=settings.data_dir
        )
        self.box = SecretBox(master_key)
        self.db = Database(settings.effective_database_url, data_dir=settings.data_dir)
        self.idempotency = IdempotencyRecords(self.box)
        self.keys = KeyRing(
            db=self.db,
            box=self.box,
            clock=self.clock,
            token_ttl=settings.access_token_ttl,
        )
        self.tokens = AccessTokens(
            keys=self.keys,
            clock=self.clock,
            issuer=settings.public_url,
            ttl=settings.access_token_ttl,
        )
        self.passwords = PasswordHasher(
            memory_kib=settings.argon2_memory_kib,
            time_cost=settings.argon2_time_cost,
            parallelism=settings.argon2_parallelism,
        )
        self.mail = MailOutbox(clock=self.clock)
        self.mail_worker = MailWorker(
            db=self.db,
            outbox=self.mail,
            sender=self._mail_sender(),
            clock=self.clock,
            mail_from=settings.mail_from,
        )
        self.identity = identity = IdentityDeps(
            db=self.db,
            clock=self.clock,
            passwords=self.passwords,
            secrets=SecretHasher(derive_key(master_key, "tenantry/one-time-codes")),
            tokens=self.tokens,
            mail=self.mail,
            faults=self.faults,
            codes=CodePolicy(
                ttl=timedelta(seconds=settings.code_ttl), max_attempts=settings.code_max_attempts
            ),
            lockout=LockoutPolicy(
                max_failures=settings.login_max_failures,
                window=timedelta(seconds=settings.login_failure_window),
            ),
            session_ttl=timedelta(seconds=settings.refresh_token_ttl),
            public_url=settings.public_url,
        )
        self.signup = SignUpFlow(identity)
        self.login = LoginFlow(identity)
        self.recovery = RecoveryFlow(identity)
        self.invitations = Invitations(
            mail=self.mail,
            hasher=SecretHasher(derive_key(master_key, "tenantry/invitation-tokens")),
            clock=self.clock,
            public_url=settings.public_url,
            plans=self.plans,
        )
        self.http = httpx.AsyncClient(timeout=5.0, follow_redirects=False)
        federated = FederatedTokens(
            issuers=settings.trusted_issuers, http=self.http, clock=self.clock
        )
        self.authenticator = Authenticator(deps=identity, federated=federated)
        self.stores = TenantStores(
            db=self.db,
            silos=SiloStores(settings.effective_database_url, data_dir=settings.data_dir),
            box=self.box,
        )
        self.provisioner = Provisioner(stores=self.stores, clock=self.clock, faults=self.faults)
        self.profiles: CachedReader[uuid.UUID, Profile] = CachedReader(self.db, get_profile)
        self.tenant_views: CachedReader[uuid.UUID, TenantView] = CachedReader(
            self.db, partial(read_tenant, plans=self.plans)
        )
        self._tasks: list[asyncio.Task[None]] = []

    def _mail_sender(self) -> MailSender:
        if self.settings.smtp_url:
            return SmtpSender(self.settings.smtp_url)
        return LogSender()

    async def start(self, *, migrate: bool = True, workers: bool = True) -> None:
        if migrate:
            await upgrade_async(self.settings.effective_database_url)
        await self.db.epoch.start()
        await self.keys.ensure_current()
        if workers:
            self._tasks = [
                asyncio.create_task(self.mail_worker.run_forever(), name="mail-worker"),
                asyncio.create_task(
                    _repeat(KEY_RELOAD_SECONDS, self.keys.reload), name="key-reload"
                ),
                asyncio.create_task(
                    _repeat(PURGE_SECONDS, self._purge_idempotency_records),
                    name="idempotency-purge",
                ),
                asyncio.create_task(
                    _repeat(RECOVERY_SECONDS, self.provisioner.recover_stalled),
                    name="provisioning-recovery",
                ),
            ]

    async def _purge_idempotency_records(self) -> None:
        async with self.db.transaction() as session:
            await purge_expired(session, now=self.clock.now())

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self.passwords.close()
        await self.http.aclose()
        await self.db.epoch.stop()
        await self.stores.silos.dispose()
        await self.db.dispose()
