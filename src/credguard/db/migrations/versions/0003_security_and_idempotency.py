"""security and idempotency

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 16:22:39.488229
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ip_blocks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("network", sa.String(length=49), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=True),
        sa.Column("createdAt", sa.DateTime(), nullable=False),
        sa.Column("expiresAt", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ip_blocks")),
        sa.UniqueConstraint("network", name=op.f("uq_ip_blocks_network")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("clientIp", sa.String(length=45), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("createdAt", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_login_attempts_clientIp_createdAt", ["clientIp", "createdAt"], unique=False
        )
        batch_op.create_index(
            "ix_login_attempts_email_createdAt", ["email", "createdAt"], unique=False
        )

    with op.batch_alter_table("batch_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotencyKey", sa.String(length=128), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_batch_jobs_clientId_idempotencyKey"), ["clientId", "idempotencyKey"]
        )


def downgrade() -> None:
    with op.batch_alter_table("batch_jobs", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_batch_jobs_clientId_idempotencyKey"), type_="unique"
        )
        batch_op.drop_column("idempotencyKey")

    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_login_attempts_email_createdAt")
        batch_op.drop_index("ix_login_attempts_clientIp_createdAt")

    op.drop_table("login_attempts")
    op.drop_table("ip_blocks")
