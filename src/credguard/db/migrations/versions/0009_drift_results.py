"""drift results: one row per product × scope (all clients or one client) × day

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drift_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("produto", sa.String(length=40), nullable=False),
        # NULL: every client together; `scope` is "all" or "client:<id>" (unique key part).
        sa.Column("clientId", sa.Integer(), nullable=True),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("dia", sa.Date(), nullable=False),
        sa.Column("windowStart", sa.DateTime(), nullable=False),
        sa.Column("windowEnd", sa.DateTime(), nullable=False),
        sa.Column("modelId", sa.Integer(), nullable=True),
        sa.Column("nCurrent", sa.Integer(), nullable=False),
        sa.Column("nReference", sa.Integer(), nullable=False),
        sa.Column("psi", sa.Float(), nullable=True),
        sa.Column("psiCritical", sa.Float(), nullable=True),
        sa.Column("psiStatus", sa.String(length=24), nullable=False),
        # Why `status` is what it is: the verdict of each part (stable | attention | action |
        # insufficient_sample), kept beside the overall one so a page or a check can say why.
        sa.Column("featureStatus", sa.String(length=24), nullable=False),
        sa.Column("performanceStatus", sa.String(length=24), nullable=False),
        sa.Column("featureDrift", sa.Text(), nullable=True),
        sa.Column("scoreDistribution", sa.Text(), nullable=True),
        sa.Column("performance", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("createdAt", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["clientId"], ["clients.id"], name=op.f("fk_drift_results_clientId_clients")
        ),
        sa.ForeignKeyConstraint(
            ["modelId"], ["models.id"], name=op.f("fk_drift_results_modelId_models")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drift_results")),
        sa.UniqueConstraint(
            "produto", "scope", "dia", name=op.f("uq_drift_results_produto_scope_dia")
        ),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    op.create_index(op.f("ix_drift_results_dia"), "drift_results", ["dia"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_drift_results_dia"), table_name="drift_results")
    op.drop_table("drift_results")
