"""where each registered model lives in MLflow (the registry mirror)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 21:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("models") as batch:
        batch.add_column(sa.Column("mlflowVersion", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("mlflowRunId", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("models") as batch:
        batch.drop_column("mlflowRunId")
        batch.drop_column("mlflowVersion")
