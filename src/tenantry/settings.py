"""One typed configuration object; every environment variable is documented here once."""

from __future__ import annotations

import ipaddress
import json
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tenantry.domain.identity.issuers import TrustedIssuer

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def listen_address(value: str) -> tuple[str, int]:
    """`HOST:PORT` (an IPv6 host in brackets) as (host, port); ValueError if it is not one."""
    host, colon, port = value.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65_536:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    return host, int(port)


class Settings(BaseSettings):
    """Tenantry configuration, read from `TENANTRY_*` variables and an optional `.env` file."""

    model_config = SettingsConfigDict(env_prefix="TENANTRY_", env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None, description="sqlite:///path or postgresql://user:pass@host:port/db"
    )
    data_dir: Path = Field(default=Path(".tenantry"), description="keys and SQLite files")
    public_url: str = Field(default="http://localhost:8000", description="external base URL")
    smtp_url: str | None = Field(default=None, description="smtp:// or smtps://; unset = log")
    mail_from: str = "no-reply@localhost"
    master_key: str | None = Field(default=None, description="encrypts secrets at rest")
    hubspot_client_secret: str | None = None
    trusted_issuers: Annotated[list[TrustedIssuer], NoDecode] = Field(default_factory=list)
    webhook_allow_private: bool = False
    access_token_ttl: int = Field(default=900, ge=30, le=86_400)
    refresh_token_ttl: int = Field(default=30 * 86_400, ge=300)
    web_session_idle_ttl: int = Field(
        default=12 * 3600, ge=60, description="seconds a web session survives without a page view"
    )
    web_session_ttl: int = Field(
        default=7 * 86_400, ge=300, description="seconds a web session lives at most"
    )
    trusted_proxies: Annotated[list[IPNetwork], NoDecode] = Field(default_factory=list)
    admin_listen: str | None = Field(
        default=None,
        description="HOST:PORT of a private listener for the /v1/admin routes, which the "
        "public one then leaves out; unset = served on the public listener",
    )

    argon2_memory_kib: int = Field(default=19_456, ge=8_192, description="OWASP minimum 19 MiB")
    argon2_time_cost: int = Field(default=2, ge=1)
    argon2_parallelism: int = Field(default=1, ge=1)
    login_max_failures: int = Field(
        default=10,
        ge=1,
        description="failed sign-ins per account and client (its address, or a device it "
        "proved with the cookie of an earlier sign-in) per login_failure_window",
    )
    login_account_max_failures: int = Field(
        default=50,
        ge=1,
        description="failed sign-ins per account from all clients without a device proof per "
        "login_failure_window; past it a proven device is slowed down instead of refused",
    )
    login_failure_window: int = Field(default=15 * 60, description="seconds")
    client_hash_limit: int = Field(
        default=60,
        ge=1,
        description="anonymous requests that run Argon2 (sign-up, login, registration, a "
        "password set by a code) per client address per client_hash_window",
    )
    client_hash_window: int = Field(default=60, ge=1, description="seconds")
    hashing_queue: int = Field(
        default=64,
        ge=1,
        description="password hashes (sign-ups, resets, registrations) that may wait for the "
        "hashing lane; past it they answer 503 server_busy. Logins verify on a lane of their own",
    )
    code_ttl: int = Field(default=600, description="seconds a mailed code lives")
    code_max_attempts: int = 5
    address_mail_limit: int = Field(
        default=5,
        ge=1,
        description="codes and account mails one address may be sent per address_mail_window "
        "and client (its address, or a device it proved)",
    )
    address_mail_total_limit: int = Field(
        default=20,
        ge=1,
        description="codes and account mails one address may be sent per address_mail_window "
        "at the request of clients without a device proof; with code_max_attempts it bounds "
        "the guesses at an address's codes",
    )
    address_mail_window: int = Field(default=3600, ge=1, description="seconds")
    invitation_mail_limit: int = Field(
        default=5,
        ge=1,
        description="invitation mails (creations and resends, from every tenant) one address "
        "may be sent per invitation_mail_window",
    )
    invitation_mail_window: int = Field(default=3600, ge=1, description="seconds")
    tenant_invitation_mail_limit: int = Field(
        default=200,
        ge=1,
        description="invitation mails (creations and resends) one tenant may send per "
        "tenant_invitation_mail_window",
    )
    tenant_invitation_mail_window: int = Field(default=3600, ge=1, description="seconds")
    registration_open_limit: int = Field(
        default=3,
        ge=1,
        description="self-service registrations one address may have waiting for its code",
    )
    registration_client_limit: int = Field(
        default=10,
        ge=1,
        description="self-service registrations one client address may start per "
        "registration_client_window",
    )
    registration_client_window: int = Field(
        default=86_400,
        ge=1,
        description="seconds; as long as a registration waits for its code, so that the "
        "limit caps the open ones",
    )
    plans_file: Path | None = Field(default=None, description="a plan catalog replacing plans.toml")
    collect_rate: float = Field(
        default=50.0, gt=0, description="POST /v1/collect events/s per client key and process"
    )
    collect_burst: int = Field(default=100, ge=1, description="events a key may send at once")
    audit_retention_days: int = Field(
        default=365, ge=1, description="days audit entries are kept before the hourly purge"
    )
    credential_grace: int = Field(
        default=86_400,
        ge=1,
        description="seconds revoked or expired sessions and expired codes are kept before "
        "the purge deletes them (a replayed refresh token answers 'revoked' meanwhile)",
    )
    purge_interval: int = Field(
        default=3600,
        ge=1,
        description="seconds between retention purges (spent credentials, idempotency "
        "records, old audit entries, settled events); shorter only for soak tests",
    )
    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1_024,
        description="bytes a request body may hold on any route (413 past it, chunked bodies "
        "counted as they arrive); some routes take less",
    )
    request_timeout: float = Field(
        default=30.0,
        gt=0,
        description="seconds a request may take, its body upload included: 408 while the body "
        "is still arriving (a slow client), 503 with Retry-After once it is in (a slow server)",
    )
    log_level: str = "INFO"
    log_json: bool = True
    graphiql: bool = Field(
        default=False,
        description="serve GraphiQL on GET /graphql (development only: the page loads its "
        "scripts from a CDN); unset = on when public_url is on localhost, else off",
    )

    @field_validator("trusted_issuers", mode="before")
    @classmethod
    def _parse_issuers(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else []
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_proxies(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            return [ipaddress.ip_network(part, strict=False) for part in parts]
        return value

    @field_validator("admin_listen")
    @classmethod
    def _check_listen(cls, value: str | None) -> str | None:
        if not value:
            return None
        listen_address(value)
        return value.strip()

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _graphiql_in_development(self) -> Settings:
        if "graphiql" not in self.model_fields_set:
            self.graphiql = urlsplit(self.public_url).hostname in LOCAL_HOSTS
        return self

    @cached_property
    def effective_database_url(self) -> str:
        """The configured database URL, or the embedded SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'tenantry.db').resolve()}"

    @property
    def throttle_window(self) -> timedelta:
        """The longest allowance window: a counter row may go once this has passed."""
        windows = (
            self.login_failure_window,
            self.address_mail_window,
            self.client_hash_window,
            self.invitation_mail_window,
            self.tenant_invitation_mail_window,
            self.registration_client_window,
        )
        return timedelta(seconds=max(windows))
