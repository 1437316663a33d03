"""The composition root: builds storage, services and background workers from Settings."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import httpx
import structlog

from tenantry.clock import Clock
from tenantry.domain.accounts.users import ProfileReader
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
from tenantry.faults import Faults
from tenantry.settings import Settings
from tenantry.storage.database import Database
from tenantry.storage.migrate import upgrade_async

log = structlog.get_logger("tenantry")
KEY_RELOAD_SECONDS = 60


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
        self.db = Database(settings.effective_database_url)
        self.keys = KeyRing(
            db=self.db,
            box=SecretBox(master_key),
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
        self.http = httpx.AsyncClient(timeout=5.0, follow_redirects=False)
        federated = FederatedTokens(
            issuers=settings.trusted_issuers, http=self.http, clock=self.clock
        )
        self.authenticator = Authenticator(deps=identity, federated=federated)
        self.profiles = ProfileReader(self.db)
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
                asyncio.create_task(self._reload_keys_forever(), name="key-reload"),
            ]

    async def _reload_keys_forever(self) -> None:
        while True:
            await asyncio.sleep(KEY_RELOAD_SECONDS)
            try:
                await self.keys.reload()
            except Exception:  # keep serving with the keys we have
                log.exception("key_reload_failed")

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
        await self.db.dispose()
