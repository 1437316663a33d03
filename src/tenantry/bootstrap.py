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

from tenantry.adapters.jwks import HttpJwks
from tenantry.adapters.mail_templates import JinjaMailTemplates
from tenantry.adapters.smtp import LogSender, SmtpSender
from tenantry.adapters.webhook_http import WebhookSender, new_http_client
from tenantry.clock import Clock
from tenantry.domain.accounts.dashboard import Dashboards
from tenantry.domain.accounts.environments import Environments
from tenantry.domain.accounts.invitations import InvitationAllowance, Invitations
from tenantry.domain.accounts.members import Members
from tenantry.domain.accounts.projects import Projects
from tenantry.domain.accounts.teams import Teams
from tenantry.domain.accounts.tenants import Tenants, TenantView, read_tenant
from tenantry.domain.accounts.users import Profile, Users, get_profile
from tenantry.domain.accounts.wizard import OnboardingWizard
from tenantry.domain.audit import AuditLog, purge_audit_entries
from tenantry.domain.caching import CachedReader
from tenantry.domain.dataplane.collection import Collector, TokenBuckets
from tenantry.domain.dataplane.experiments import Experiments
from tenantry.domain.dataplane.orders import Orders
from tenantry.domain.dataplane.products import Products
from tenantry.domain.dataplane.units import TenantData
from tenantry.domain.detached import Detached
from tenantry.domain.idempotency import IdempotencyRecords, purge_expired
from tenantry.domain.identity.access import Authenticator
from tenantry.domain.identity.codes import CodePolicy
from tenantry.domain.identity.devices import DeviceProofs
from tenantry.domain.identity.external_accounts import ExternalAccounts
from tenantry.domain.identity.federation import FederatedTokens
from tenantry.domain.identity.keys import KeyRing
from tenantry.domain.identity.login import LoginFlow
from tenantry.domain.identity.masterkey import (
    PREVIOUS_KEY_FILE,
    SecretBox,
    derive_key,
    load_or_create_master_key,
    read_key_file,
)
from tenantry.domain.identity.notices import SecurityNotices
from tenantry.domain.identity.passwords import PasswordHasher
from tenantry.domain.identity.recovery import RecoveryFlow
from tenantry.domain.identity.retention import purge_spent_credentials
from tenantry.domain.identity.secrets import SecretHasher
from tenantry.domain.identity.signup import SignUpFlow
from tenantry.domain.identity.throttle import Allowances, LockoutPolicy
from tenantry.domain.identity.tokens import AccessTokens
from tenantry.domain.identity.toolkit import IdentityToolkit
from tenantry.domain.identity.web_sessions import WebSessionPolicy, WebSessions
from tenantry.domain.lanes import Lane
from tenantry.domain.mail.outbox import MailOutbox
from tenantry.domain.mail.senders import MailSender
from tenantry.domain.mail.worker import MailWorker
from tenantry.domain.plans.catalog import PlanCatalog
from tenantry.domain.provider.admin_tenants import AdminTenants
from tenantry.domain.provider.admin_users import AdminUsers
from tenantry.domain.provider.hubspot import HubspotPayments
from tenantry.domain.provider.plan_changes import PlanChanges
from tenantry.domain.provider.provisioning import Provisioner
from tenantry.domain.provider.registrations import RegistrationCaps, Registrations
from tenantry.domain.provider.stores import TenantStores
from tenantry.domain.sealing import finish_pending_rotation, load_or_create_hashing_key
from tenantry.domain.webhooks.dispatcher import WebhookDispatcher
from tenantry.domain.webhooks.endpoints import WebhookEndpoints
from tenantry.domain.webhooks.retention import purge_settled_events
from tenantry.faults import Faults
from tenantry.settings import Settings
from tenantry.storage.database import Database
from tenantry.storage.migrate import upgrade_async
from tenantry.storage.private_files import private_data_dir
from tenantry.storage.silos import SiloStores

log = structlog.get_logger("tenantry")
KEY_RELOAD_SECONDS = 60
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


async def _cancel(task: asyncio.Task[None]) -> None:
    """Cancel `task` and wait for it to end. A cancellation can be swallowed by library code
    awaiting a timeout (aiosmtplib's `wait_for` on Python 3.11), so it is repeated until the
    task is really done."""
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=0.1)
    with contextlib.suppress(asyncio.CancelledError):
        task.result()


# Anonymous requests for mail handled at once per process, and waiting: a flood of them then
# queues in its lane, not at the database in front of logins (bench.flood).
ANONYMOUS_MAIL_WIDTH = 2
ANONYMOUS_MAIL_QUEUE = 2_000


def allowances_of(settings: Settings) -> Allowances:
    def policy(limit: int, window: int) -> LockoutPolicy:
        return LockoutPolicy(max_failures=limit, window=timedelta(seconds=window))

    return Allowances(
        sign_in_per_client=policy(settings.login_max_failures, settings.login_failure_window),
        sign_in_per_account=policy(
            settings.login_account_max_failures, settings.login_failure_window
        ),
        mail_per_client=policy(settings.address_mail_limit, settings.address_mail_window),
        mail_per_address=policy(settings.address_mail_total_limit, settings.address_mail_window),
        hashing_per_client=policy(settings.client_hash_limit, settings.client_hash_window),
    )


def invitation_allowance_of(settings: Settings) -> InvitationAllowance:
    return InvitationAllowance(
        per_recipient=LockoutPolicy(
            max_failures=settings.invitation_mail_limit,
            window=timedelta(seconds=settings.invitation_mail_window),
        ),
        per_tenant=LockoutPolicy(
            max_failures=settings.tenant_invitation_mail_limit,
            window=timedelta(seconds=settings.tenant_invitation_mail_window),
        ),
    )


def registration_caps_of(settings: Settings) -> RegistrationCaps:
    return RegistrationCaps(
        open_per_address=settings.registration_open_limit,
        per_client=LockoutPolicy(
            max_failures=settings.registration_client_limit,
            window=timedelta(seconds=settings.registration_client_window),
        ),
    )


def web_session_policy_of(settings: Settings) -> WebSessionPolicy:
    return WebSessionPolicy(
        idle=timedelta(seconds=settings.web_session_idle_ttl),
        absolute=timedelta(seconds=settings.web_session_ttl),
    )


class Container:
    """Everything a process needs, built once. `start()` prepares storage and keys and starts
    the workers; `stop()` ends them."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or Clock()
        self.faults = Faults()
        self.plans = PlanCatalog.load(settings.plans_file)
        private_data_dir(settings.data_dir)
        master_key = load_or_create_master_key(
            configured=settings.master_key, data_dir=settings.data_dir
        )
        self.box = SecretBox(master_key, previous=self._previous_master_keys())
        # Keyed in start() from the hashing key sealed in the database, which outlives
        # master-key rotations.
        self.code_hasher = SecretHasher()
        self.invitation_hasher = SecretHasher()
        self.csrf_hasher = SecretHasher()
        self.fingerprint_hasher = SecretHasher()
        self.device_hasher = SecretHasher()
        self.known_device_hasher = SecretHasher()
        self.db = Database(settings.effective_database_url, data_dir=settings.data_dir)
        self.idempotency = IdempotencyRecords(self.box, self.fingerprint_hasher)
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
            queue=settings.hashing_queue,
        )
        self._build_identity()
        self._build_provider()
        self._build_webhooks()
        self._build_data_plane()
        self._build_accounts()
        self._tasks: list[asyncio.Task[None]] = []

    def _build_identity(self) -> None:
        """Mail, the identity toolkit and the flows built on it."""
        self.mail = MailOutbox(clock=self.clock, renderer=JinjaMailTemplates())
        self.detached = Detached()
        self.mail_worker = MailWorker(
            db=self.db,
            outbox=self.mail,
            sender=self._mail_sender(),
            clock=self.clock,
            mail_from=self.settings.mail_from,
        )
        self.identity = IdentityToolkit(
            db=self.db,
            clock=self.clock,
            passwords=self.passwords,
            secrets=self.code_hasher,
            tokens=self.tokens,
            mail=self.mail,
            notices=SecurityNotices(
                mail=self.mail,
                devices=self.known_device_hasher,
                public_url=self.settings.public_url,
            ),
            faults=self.faults,
            codes=CodePolicy(
                ttl=timedelta(seconds=self.settings.code_ttl),
                max_attempts=self.settings.code_max_attempts,
            ),
            allowances=allowances_of(self.settings),
            devices=DeviceProofs(self.device_hasher),
            detached=self.detached,
            mail_lane=Lane(width=ANONYMOUS_MAIL_WIDTH, queue=ANONYMOUS_MAIL_QUEUE),
            session_ttl=timedelta(seconds=self.settings.refresh_token_ttl),
            public_url=self.settings.public_url,
        )
        self.login = LoginFlow(self.identity)
        self.web_sessions = WebSessions(
            db=self.db,
            clock=self.clock,
            policy=web_session_policy_of(self.settings),
            csrf=self.csrf_hasher,
        )
        self.recovery = RecoveryFlow(self.identity)
        self.invitations = Invitations(
            db=self.db,
            mail=self.mail,
            hasher=self.invitation_hasher,
            clock=self.clock,
            public_url=self.settings.public_url,
            plans=self.plans,
            allowance=invitation_allowance_of(self.settings),
        )
        self.http = httpx.AsyncClient(timeout=5.0, follow_redirects=False)
        federated = FederatedTokens(
            issuers=self.settings.trusted_issuers, jwks=HttpJwks(self.http), clock=self.clock
        )
        self.external_accounts = ExternalAccounts(toolkit=self.identity, federated=federated)
        self.authenticator = Authenticator(
            toolkit=self.identity, federated=federated, accounts=self.external_accounts
        )

    def _build_provider(self) -> None:
        """The tenants' stores, provisioning and plan changes, the data plane, registrations,
        the console's services and payments."""
        self.stores = TenantStores(
            db=self.db,
            silos=SiloStores(self.settings.effective_database_url, data_dir=self.settings.data_dir),
            box=self.box,
        )
        self.provisioner = Provisioner(stores=self.stores, clock=self.clock, faults=self.faults)
        self.plan_changes = PlanChanges(stores=self.stores, clock=self.clock, faults=self.faults)
        self.tenant_data = TenantData(stores=self.stores)
        self.collector = Collector(
            db=self.db,
            clock=self.clock,
            tenant_data=self.tenant_data,
            plans=self.plans,
            limits=TokenBuckets(rate=self.settings.collect_rate, burst=self.settings.collect_burst),
        )
        self.registrations = Registrations(
            identity=self.identity,
            plans=self.plans,
            provisioner=self.provisioner,
            caps=registration_caps_of(self.settings),
        )
        self.signup = SignUpFlow(self.identity, on_confirmed=self.registrations.complete_pending)
        self.admin_tenants = AdminTenants(
            db=self.db,
            plans=self.plans,
            clock=self.clock,
            identity=self.identity,
            provisioner=self.provisioner,
            plan_changes=self.plan_changes,
        )
        self.admin_users = AdminUsers(db=self.db, clock=self.clock)
        self.hubspot = HubspotPayments(
            secret=self.settings.hubspot_client_secret,
            provisioner=self.provisioner,
            plans=self.plans,
            identity=self.identity,
            clock=self.clock,
        )

    def _build_webhooks(self) -> None:
        self.webhook_http = new_http_client()
        self.webhook_dispatcher = WebhookDispatcher(
            db=self.db,
            box=self.box,
            sender=WebhookSender(
                self.webhook_http, allow_private=self.settings.webhook_allow_private
            ),
            clock=self.clock,
            plans=self.plans,
        )
        self.webhook_endpoints = WebhookEndpoints(
            db=self.db,
            clock=self.clock,
            box=self.box,
            allow_private=self.settings.webhook_allow_private,
            plans=self.plans,
            wake_dispatcher=self.webhook_dispatcher.wake.set,
        )

    def _build_data_plane(self) -> None:
        """The tenant's own data and the audit log's reads."""
        self.products = Products(db=self.db, clock=self.clock, tenant_data=self.tenant_data)
        self.orders = Orders(db=self.db, clock=self.clock, tenant_data=self.tenant_data)
        self.experiments = Experiments(
            db=self.db, clock=self.clock, tenant_data=self.tenant_data, plans=self.plans
        )
        self.audit_log = AuditLog(db=self.db, plans=self.plans)

    def _build_accounts(self) -> None:
        """The tenant-side services: tenants, users, projects, teams, members, onboarding."""
        self.profiles: CachedReader[uuid.UUID, Profile] = CachedReader(self.db, get_profile)
        self.tenant_views: CachedReader[uuid.UUID, TenantView] = CachedReader(
            self.db, partial(read_tenant, plans=self.plans)
        )
        self.tenants = Tenants(db=self.db, clock=self.clock, silos=self.stores.silos)
        self.users = Users(db=self.db, clock=self.clock, profiles=self.profiles)
        self.dashboards = Dashboards(db=self.db)
        self.projects = Projects(
            db=self.db,
            clock=self.clock,
            plans=self.plans,
            tenant_data=self.tenant_data,
            public_url=self.settings.public_url,
        )
        self.environments = Environments(
            db=self.db,
            clock=self.clock,
            plans=self.plans,
            tenant_data=self.tenant_data,
            public_url=self.settings.public_url,
        )
        self.teams = Teams(db=self.db, clock=self.clock, plans=self.plans)
        self.onboarding = OnboardingWizard(db=self.db, clock=self.clock, plans=self.plans)
        self.members = Members(db=self.db, clock=self.clock)

    def _previous_master_keys(self) -> tuple[bytes, ...]:
        """The data-dir key a rotation replaced, still tried for decryption."""
        if self.settings.master_key:
            return ()
        previous = read_key_file(self.settings.data_dir / PREVIOUS_KEY_FILE)
        return (previous,) if previous else ()

    def _mail_sender(self) -> MailSender:
        if self.settings.smtp_url:
            return SmtpSender(self.settings.smtp_url)
        return LogSender()

    async def start(self, *, migrate: bool = True, workers: bool = True) -> None:
        if migrate:
            await upgrade_async(self.settings.effective_database_url)
        await self.db.epoch.start()
        await self._load_secrets()
        await self.keys.ensure_current()
        if migrate:
            await self.stores.upgrade_silos()
        # Serving requests, not background work: POST /v1/collect waits on it, so always on.
        self._tasks = [
            asyncio.create_task(self.collector.writer.run_forever(), name="collect-writer")
        ]
        if workers:
            self._tasks += self._start_outbox_workers()
            self._tasks += [
                asyncio.create_task(
                    _repeat(KEY_RELOAD_SECONDS, self.keys.reload), name="key-reload"
                ),
                asyncio.create_task(
                    _repeat(self.settings.purge_interval, self._purge_expired_rows),
                    name="retention-purge",
                ),
                asyncio.create_task(
                    _repeat(RECOVERY_SECONDS, self._recover_interrupted_work),
                    name="provisioning-recovery",
                ),
            ]

    def _start_outbox_workers(self) -> list[asyncio.Task[None]]:
        """The workers that drain the outboxes: also all that `tenantry worker` runs."""
        return [
            asyncio.create_task(self.mail_worker.run_forever(), name="mail-worker"),
            asyncio.create_task(self.webhook_dispatcher.run_forever(), name="webhook-dispatcher"),
        ]

    async def _recover_interrupted_work(self) -> None:
        """Undo provisioning runs, settle data moves and drop the silos of deleted tenants
        that a crash left unfinished."""
        await self.provisioner.recover_stalled()
        await self.plan_changes.resume_all()
        await self.stores.drop_orphaned_silos()

    async def _load_secrets(self) -> None:
        """Settle an interrupted master-key rotation, then key the hashers."""
        if not self.settings.master_key:
            await finish_pending_rotation(self.db, self.box, data_dir=self.settings.data_dir)
        hashing_key = await load_or_create_hashing_key(self.db, self.box, now=self.clock.now())
        self.code_hasher.use_key(derive_key(hashing_key, "tenantry/one-time-codes"))
        self.invitation_hasher.use_key(derive_key(hashing_key, "tenantry/invitation-tokens"))
        self.csrf_hasher.use_key(derive_key(hashing_key, "tenantry/web-csrf"))
        self.fingerprint_hasher.use_key(derive_key(hashing_key, "tenantry/idempotency"))
        self.device_hasher.use_key(derive_key(hashing_key, "tenantry/device-proofs"))
        self.known_device_hasher.use_key(derive_key(hashing_key, "tenantry/known-devices"))

    async def _purge_expired_rows(self) -> None:
        """What retention says may go: idempotency records, spent credentials, old audit
        entries and settled events."""
        async with self.db.transaction() as session:
            await purge_expired(session, now=self.clock.now())
        grace = timedelta(seconds=self.settings.credential_grace)
        await purge_spent_credentials(
            self.db,
            now=self.clock.now(),
            throttle_window=self.settings.throttle_window,
            grace=grace,
        )
        retention = timedelta(days=self.settings.audit_retention_days)
        await purge_audit_entries(self.db, before=self.clock.now() - retention)
        await purge_settled_events(self.db, now=self.clock.now())

    async def stop(self) -> None:
        for task in self._tasks:
            await _cancel(task)
        self._tasks = []
        await self.detached.settle()
        self.passwords.close()
        await self.http.aclose()
        await self.webhook_http.aclose()
        await self.db.epoch.stop()
        await self.stores.silos.dispose()
        await self.db.dispose()
