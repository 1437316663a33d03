"""The core tables, for statements built once at import and run on the Core connection: on the
hot paths that costs a fraction of building an ORM statement per call (see bench/)."""

from __future__ import annotations

from sqlalchemy import Table

from tenantry.storage.models import Base


def table(name: str) -> Table:
    return Base.metadata.tables[name]


USERS = table("users")
TENANTS = table("tenants")
MEMBERSHIPS = table("memberships")
PROJECTS = table("projects")
ENVIRONMENTS = table("environments")
DOMAIN_EVENTS = table("domain_events")
SESSIONS = table("sessions")
REFRESH_TOKENS = table("refresh_tokens")
LOGIN_THROTTLES = table("login_throttles")
EMAIL_CODES = table("email_codes")
WEB_SESSIONS = table("web_sessions")
KNOWN_DEVICES = table("known_devices")
TEAMS = table("teams")
TEAM_MEMBERS = table("team_members")
PROJECT_TEAMS = table("project_teams")
INVITATIONS = table("invitations")
IDEMPOTENCY_RECORDS = table("idempotency_records")
