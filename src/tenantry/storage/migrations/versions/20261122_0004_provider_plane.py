"""provider plane

Revision ID: 20261122_0004
Revises: 20261122_0003
Create Date: 2026-11-22 17:15:45.140397
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tenantry.storage.types

revision: str = "20261122_0004"
down_revision: str | None = "20261122_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hubspot_events",
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", tenantry.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_hubspot_events")),
    )
    op.create_table(
        "sealed_secrets",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("sealed_value", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", tenantry.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tenantry.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sealed_secrets")),
    )
    op.create_table(
        "registrations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_name", sa.String(length=200), nullable=False),
        sa.Column("plan", sa.String(length=50), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column("expires_at", tenantry.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", tenantry.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tenantry.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'completed', 'failed')", name=op.f("ck_registrations_status")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_registrations_tenant_id_tenants"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_registrations_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registrations")),
    )
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_registrations_user_id_status", ["user_id", "status"], unique=False
        )

    op.create_table(
        "store_moves",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("target", sa.String(length=10), nullable=False),
        sa.Column("target_plan", sa.String(length=50), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("old_silo_locator_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", tenantry.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tenantry.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("state IN ('copying', 'switched')", name=op.f("ck_store_moves_state")),
        sa.CheckConstraint("target IN ('pool', 'silo')", name=op.f("ck_store_moves_target")),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_store_moves_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_store_moves")),
    )
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disabled_reason", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("silo_locator_sealed", sa.LargeBinary(), nullable=True))
        batch_op.drop_constraint(op.f("ck_tenants_status"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_tenants_status"), "status IN ('active', 'disabled', 'provisioning')"
        )


def downgrade() -> None:
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_tenants_status"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_tenants_status"), "status IN ('active', 'disabled')"
        )
        batch_op.drop_column("silo_locator_sealed")
        batch_op.drop_column("disabled_reason")

    op.drop_table("store_moves")
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_index("ix_registrations_user_id_status")

    op.drop_table("registrations")
    op.drop_table("sealed_secrets")
    op.drop_table("hubspot_events")
