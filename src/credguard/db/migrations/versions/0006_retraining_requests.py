"""retraining requests, one of the triggers `credguard models due` lists

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retraining_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("product", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("requestedBy", sa.String(length=200), nullable=False),
        sa.Column("createdAt", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retraining_requests")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    op.create_index(
        op.f("ix_retraining_requests_product"), "retraining_requests", ["product"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_retraining_requests_product"), table_name="retraining_requests")
    op.drop_table("retraining_requests")
