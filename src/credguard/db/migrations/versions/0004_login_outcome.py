"""login attempts keep their outcome, throttled ones included

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 18:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("login_attempts") as batch:
        batch.add_column(
            sa.Column("outcome", sa.String(length=16), nullable=False, server_default="failed")
        )
    op.execute("UPDATE login_attempts SET outcome = 'succeeded' WHERE succeeded")


def downgrade() -> None:
    op.execute("DELETE FROM login_attempts WHERE outcome = 'throttled'")
    with op.batch_alter_table("login_attempts") as batch:
        batch.drop_column("outcome")
