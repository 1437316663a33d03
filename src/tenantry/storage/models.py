"""The core schema. Integrity lives here: unique keys, foreign keys and enum checks."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tenantry.storage.types import UTCDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLES = ("owner", "admin", "editor", "viewer")
# `provisioning`: reserved by a provisioning run that has not finished (or is being undone).
TENANT_STATUSES = ("active", "disabled", "provisioning")


def _in(column: str, values: tuple[str, ...]) -> str:
    listed = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({listed})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        uuid.UUID: Uuid,
    }


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(200))
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    is_platform_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    default_tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="SET NULL", use_alter=True)
    )
    tokens_valid_after: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Tenant(Base):
    __tablename__ = "tenants"
    __table_args__ = (
        CheckConstraint(_in("kind", ("personal", "organization")), name="kind"),
        CheckConstraint(_in("status", TENANT_STATUSES), name="status"),
        CheckConstraint(_in("isolation", ("pool", "silo")), name="isolation"),
        CheckConstraint(
            "(kind = 'personal') = (personal_owner_id IS NOT NULL)", name="personal_owner"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    plan: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20), default="active")
    isolation: Mapped[str] = mapped_column(String(10), default="pool")
    profile: Mapped[dict[str, Any]] = mapped_column(default=dict)
    extra_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    feature_overrides: Mapped[dict[str, Any]] = mapped_column(default=dict)
    personal_owner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    # A silo tenant's store locator, sealed with the master key (it may carry credentials).
    silo_locator_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_id"),
        CheckConstraint(_in("role", ROLES), name="role"),
        Index("ix_memberships_user_id", "user_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (
        Index("ix_projects_tenant_id_created_at", "tenant_id", "created_at"),
        # The target of tenant-consistent composite foreign keys (project_teams).
        Index("uq_projects_tenant_id_id", "tenant_id", "id", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Environment(Base):
    __tablename__ = "environments"
    __table_args__ = (UniqueConstraint("project_id", "slug"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    slug: Mapped[str] = mapped_column(String(100))
    client_key: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Team(Base):
    __tablename__ = "teams"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        Index("ix_teams_tenant_id_created_at", "tenant_id", "created_at"),
        Index("uq_teams_tenant_id_id", "tenant_id", "id", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TeamMember(Base):
    """A tenant member in a team. The composite keys keep team and member in one tenant, and
    an eviction removes the member from the tenant's teams."""

    __tablename__ = "team_members"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "team_id"], ["teams.tenant_id", "teams.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["memberships.tenant_id", "memberships.user_id"],
            ondelete="CASCADE",
        ),
        Index("ix_team_members_tenant_id_user_id", "tenant_id", "user_id"),
    )

    team_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime]


class ProjectTeam(Base):
    """A team linked to a project of the same tenant."""

    __tablename__ = "project_teams"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "team_id"], ["teams.tenant_id", "teams.id"], ondelete="CASCADE"
        ),
        Index("ix_project_teams_tenant_id_team_id", "tenant_id", "team_id"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    team_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime]


class Invitation(Base):
    """An invitation to join a tenant. Only the token's hash is stored; the status is derived
    from the timestamps (accepted, declined, revoked, else expired or pending)."""

    __tablename__ = "invitations"
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="role"),
        Index("ix_invitations_tenant_id_created_at", "tenant_id", "created_at"),
        Index("ix_invitations_tenant_id_email_key", "tenant_id", "email_key"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    inviter_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    accepted_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    declined_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class IdempotencyRecord(Base):
    """A creating request's key and its first response, replayed for 24 hours. The body is
    sealed with the master key: a response may carry a secret (an invitation's accept URL)."""

    __tablename__ = "idempotency_records"
    __table_args__ = (Index("ix_idempotency_records_created_at", "created_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    sealed_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The id the claimed work gives the row it creates, so a retry that takes over a dead
    # request's claim finds that row instead of making a second one.
    work_id: Mapped[uuid.UUID | None]
    # When the claim was taken (or taken over): the lease of an unanswered claim runs from it.
    created_at: Mapped[datetime]


class Session(Base):
    """A sign-in: one refresh-token family. Revoking it kills its refresh and access tokens."""

    __tablename__ = "sessions"
    __table_args__ = (
        Index("ix_sessions_user_id", "user_id"),
        # the retention purge looks sessions up by these
        Index("ix_sessions_expires_at", "expires_at"),
        Index("ix_sessions_revoked_at", "revoked_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(500))


class KnownDevice(Base):
    """A device (user agent and network, as a keyed hash) an account has signed in from: a
    sign-in from another one is mailed to the account's owner (domain/identity/known_devices)."""

    __tablename__ = "known_devices"
    __table_args__ = (
        UniqueConstraint("user_id", "device_hash"),
        Index("ix_known_devices_last_seen_at", "last_seen_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    device_hash: Mapped[str] = mapped_column(String(64))
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"
    __table_args__ = (
        Index("ix_refresh_tokens_session_id", "session_id"),
        Index("ix_refresh_tokens_rotated_at", "rotated_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    rotated_at: Mapped[datetime | None]


class EmailCode(Base):
    """A mailed one-time code. A sign-up code carries the password chosen with it."""

    __tablename__ = "email_codes"
    __table_args__ = (
        CheckConstraint(_in("purpose", ("confirm", "reset")), name="purpose"),
        CheckConstraint("attempts >= 0", name="attempts"),
        Index("ix_email_codes_email_key_purpose", "email_key", "purpose"),
        Index("ix_email_codes_expires_at", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    email_key: Mapped[str] = mapped_column(String(320))
    purpose: Mapped[str] = mapped_column(String(20))
    code_hash: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class LoginThrottle(Base):
    """Failed logins per email (known or not, so the lockout does not reveal accounts)."""

    __tablename__ = "login_throttles"
    __table_args__ = (Index("ix_login_throttles_window_started_at", "window_started_at"),)

    email_key: Mapped[str] = mapped_column(String(320), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[datetime]


class SigningKey(Base):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(10))
    public_pem: Mapped[str] = mapped_column(Text)
    private_key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]


class DomainEvent(Base):
    """The event outbox, written in the transaction of the change it describes. The webhook
    dispatcher fans each event out to the matching endpoints once (`dispatched_at`)."""

    __tablename__ = "domain_events"
    __table_args__ = (
        Index("ix_domain_events_tenant_id", "tenant_id"),
        Index("ix_domain_events_dispatched_at_created_at", "dispatched_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    tenant_id: Mapped[uuid.UUID | None]
    actor_id: Mapped[uuid.UUID | None]
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    # Orders the events one transaction writes (they share `created_at`).
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    dispatched_at: Mapped[datetime | None]


WEBHOOK_ENDPOINT_STATUSES = ("active", "failing")
WEBHOOK_DELIVERY_STATUSES = ("pending", "delivered", "failed")


class WebhookEndpoint(Base):
    """A URL subscribed to events: a tenant's (its events only) or, with no tenant, a platform
    admin's (every tenant's). The signing secret is sealed with the master key."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        CheckConstraint(_in("status", WEBHOOK_ENDPOINT_STATUSES), name="status"),
        Index("ix_webhook_endpoints_tenant_id", "tenant_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    url: Mapped[str] = mapped_column(String(2048))
    event_types: Mapped[list[str]] = mapped_column(JSON)
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(10), default="active")
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime]
    failing_since: Mapped[datetime | None]


class WebhookDelivery(Base):
    """One event for one endpoint. Delivered at least once, in event order per (endpoint,
    tenant): the dispatcher attempts only the oldest unsettled delivery of each such queue."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(_in("status", WEBHOOK_DELIVERY_STATUSES), name="status"),
        UniqueConstraint("endpoint_id", "event_id"),
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("domain_events.id", ondelete="CASCADE"))
    tenant_id: Mapped[uuid.UUID | None]
    event_type: Mapped[str] = mapped_column(String(64))
    event_created_at: Mapped[datetime]
    event_position: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    # Retries stop here (24 h after the first try, or after a manual redelivery).
    retry_until: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    settled_at: Mapped[datetime | None]


class WebhookAttempt(Base):
    """Every delivery attempt, kept for the deliveries list."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery_id", "delivery_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    attempted_at: Mapped[datetime]
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(String(500))


class MailMessage(Base):
    """The mail outbox: written with the transaction, drained by the mail worker."""

    __tablename__ = "mail_messages"
    __table_args__ = (
        CheckConstraint(_in("status", ("pending", "sent")), name="status"),
        Index("ix_mail_messages_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class ExternalIdentity(Base):
    """A user as known to a trusted external issuer: (issuer, subject) -> user."""

    __tablename__ = "external_identities"

    issuer: Mapped[str] = mapped_column(String(500), primary_key=True)
    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]


class Registration(Base):
    """A self-service registration (SPEC §8): pending until its owner confirms the mailed
    code, then completed or failed with a reason."""

    __tablename__ = "registrations"
    __table_args__ = (
        CheckConstraint(_in("status", ("pending", "completed", "failed")), name="status"),
        Index("ix_registrations_user_id_status", "user_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    tenant_name: Mapped[str] = mapped_column(String(200))
    plan: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    failure_reason: Mapped[str | None] = mapped_column(Text)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="SET NULL")
    )
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class HubspotEvent(Base):
    """A HubSpot payment event and the answer given, replayed for its duplicates. Claimed when
    provisioning starts; `user_id` is set when it completes (null: still in progress)."""

    __tablename__ = "hubspot_events"

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[uuid.UUID | None]
    tenant_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime]


class StoreMove(Base):
    """A tenant's data moving between the pool and a silo (a plan change across isolation
    modes). While the row exists the move is unfinished; `state` says which half remains:
    `copying` (the source is still authoritative) or `switched` (the old copy awaits deletion)."""

    __tablename__ = "store_moves"
    __table_args__ = (
        CheckConstraint(_in("state", ("copying", "switched")), name="state"),
        CheckConstraint(_in("target", ("pool", "silo")), name="target"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    target: Mapped[str] = mapped_column(String(10))
    target_plan: Mapped[str] = mapped_column(String(50))
    state: Mapped[str] = mapped_column(String(20))
    # The silo being left (a move to the pool), kept sealed until it has been dropped.
    old_silo_locator_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SealedSecret(Base):
    """Process-wide secrets kept in the database, sealed with the master key (for example the
    key that HMACs one-time codes and invitation tokens, which must survive a master-key
    rotation)."""

    __tablename__ = "sealed_secrets"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    sealed_value: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AuditEntry(Base):
    """Who did what to what, when and from where (SPEC §9 audit log). No foreign keys: an
    entry outlives the tenant, user or thing it names; the retention purge removes it."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_tenant_id_created_at", "tenant_id", "created_at"),
        Index("ix_audit_entries_created_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID | None]
    actor_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(100))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    request_id: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class WebSession(Base):
    """A browser's cookie session (SPEC §11). The cookie holds a random token; only its
    SHA-256 is kept. Each one rides on an identity `Session`, so logout, password resets and
    "sign out everywhere" end it with the session's tokens."""

    __tablename__ = "web_sessions"
    __table_args__ = (
        Index("ix_web_sessions_session_id", "session_id"),
        Index("ix_web_sessions_expires_at", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class TenantOnboarding(Base):
    """The onboarding wizard's progress in a tenant (SPEC §11): each step's state, `done` or
    `skipped` (absent: still open). Kept apart from the tenant's typed profile and from the
    provider's metadata, which an admin replaces wholesale."""

    __tablename__ = "tenant_onboarding"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    steps: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
