"""Alembic environment for the tenant data schema, applied to the core database (the pool) and
to every silo; its version table is its own so it never meets the core stream's."""

from __future__ import annotations

from tenantry.storage.migrate import TENANT_VERSION_TABLE, run_environment
from tenantry.storage.tenant_models import TenantDataBase

run_environment(TenantDataBase.metadata, version_table=TENANT_VERSION_TABLE)
