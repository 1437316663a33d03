"""indexes for the retention purge of spent credentials

Revision ID: 20261122_0009
Revises: 20261122_0008
Create Date: 2026-11-23 00:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261122_0009"
down_revision: str | None = "20261122_0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_sessions_expires_at", "sessions", "expires_at"),
    ("ix_sessions_revoked_at", "sessions", "revoked_at"),
    ("ix_refresh_tokens_rotated_at", "refresh_tokens", "rotated_at"),
    ("ix_email_codes_expires_at", "email_codes", "expires_at"),
    ("ix_login_throttles_window_started_at", "login_throttles", "window_started_at"),
    ("ix_web_sessions_expires_at", "web_sessions", "expires_at"),
)


def upgrade() -> None:
    for name, table, column in INDEXES:
        op.create_index(name, table, [column])


def downgrade() -> None:
    for name, table, _column in INDEXES:
        op.drop_index(name, table_name=table)
