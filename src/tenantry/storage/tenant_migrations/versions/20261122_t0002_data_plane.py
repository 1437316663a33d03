"""data plane

Revision ID: 20261122_t0002
Revises: 20261122_t0001
Create Date: 2026-11-22 18:33:15.500419
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tenantry.storage.types

revision: str = "20261122_t0002"
down_revision: str | None = "20261122_t0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tenant-scoped units of work run as this role (SET LOCAL ROLE), so PostgreSQL row-level
# security applies below the ORM: a row is visible and writable only while
# `tenantry.tenant_id` names its tenant. The owner (system work such as data moves) is exempt.
ROLE = "tenantry_tenant_data"
TABLES = (
    "products",
    "orders",
    "order_lines",
    "experiments",
    "experiment_deployments",
    "collected_events",
    "tenant_fences",
)
CURRENT_TENANT = "NULLIF(current_setting('tenantry.tenant_id', true), '')::uuid"


def _enable_row_level_security() -> None:
    op.execute(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') "
        f"THEN CREATE ROLE {ROLE} NOLOGIN; END IF; END $$"
    )
    op.execute(f"GRANT {ROLE} TO CURRENT_USER")
    for table in TABLES:
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {ROLE}")
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            f"USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT})"
        )


def _disable_row_level_security() -> None:
    for table in ("products", "orders", "order_lines"):
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        op.execute(f"REVOKE ALL ON {table} FROM {ROLE}")


def upgrade() -> None:
    op.create_table(
        "collected_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("environment_id", sa.Uuid(), nullable=False),
        sa.Column("experiment_id", sa.Uuid(), nullable=True),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("received_at", tenantry.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collected_events")),
    )
    with op.batch_alter_table("collected_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_collected_events_tenant_id_environment_id_received_at",
            ["tenant_id", "environment_id", "received_at", "id"],
            unique=False,
        )

    op.create_table(
        "experiments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", tenantry.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tenantry.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiments")),
        sa.UniqueConstraint(
            "tenant_id", "project_id", "name", name=op.f("uq_experiments_tenant_id_project_id_name")
        ),
    )
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_experiments_tenant_id_project_id_created_at",
            ["tenant_id", "project_id", "created_at"],
            unique=False,
        )
        batch_op.create_index("uq_experiments_tenant_id_id", ["tenant_id", "id"], unique=True)

    op.create_table(
        "experiment_deployments",
        sa.Column("experiment_id", sa.Uuid(), nullable=False),
        sa.Column("environment_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("deployed_by", sa.Uuid(), nullable=True),
        sa.Column("deployed_at", tenantry.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "experiment_id"],
            ["experiments.tenant_id", "experiments.id"],
            name=op.f("fk_experiment_deployments_tenant_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "experiment_id", "environment_id", name=op.f("pk_experiment_deployments")
        ),
    )
    op.create_table(
        "tenant_fences",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("moving", sa.Boolean(), nullable=False),
        sa.Column("updated_at", tenantry.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_tenant_fences")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        # Up to 100 lines x 10,000 x 100,000,000 cents: beyond 32 bits.
        batch_op.alter_column("total_cents", existing_type=sa.Integer(), type_=sa.BigInteger())
    if op.get_bind().dialect.name == "postgresql":
        _enable_row_level_security()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _disable_row_level_security()
    op.drop_table("tenant_fences")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.alter_column("total_cents", existing_type=sa.BigInteger(), type_=sa.Integer())
    op.drop_table("experiment_deployments")
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.drop_index("uq_experiments_tenant_id_id")
        batch_op.drop_index("ix_experiments_tenant_id_project_id_created_at")

    op.drop_table("experiments")
    with op.batch_alter_table("collected_events", schema=None) as batch_op:
        batch_op.drop_index("ix_collected_events_tenant_id_environment_id_received_at")

    op.drop_table("collected_events")
