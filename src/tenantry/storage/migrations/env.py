"""Alembic environment for the core schema; run through `tenantry.storage.migrate`."""

from __future__ import annotations

from tenantry.storage.migrate import run_environment
from tenantry.storage.models import Base

run_environment(Base.metadata, version_table="alembic_version")
