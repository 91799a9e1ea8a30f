"""score snapshots: the pseudonymised copy of scored rows that outlives the 90-day archival,
and which completed jobs it holds (score_snapshot_jobs)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "score_snapshots",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("clientId", sa.Integer(), nullable=False),
        sa.Column("cpfHash", sa.String(length=64), nullable=False),
        sa.Column("produto", sa.String(length=40), nullable=False),
        # Plain numbers, no foreign keys: the 90-day archival deletes the rows they name.
        sa.Column("batchJobId", sa.Integer(), nullable=False),
        sa.Column("scoreId", sa.BigInteger(), nullable=False),
        sa.Column("dataProcessamento", sa.DateTime(), nullable=False),
        sa.Column("scoreReferenceDate", sa.Date(), nullable=True),
        sa.Column("data_primeira_compra", sa.Date(), nullable=True),
        sa.Column("data_ultima_compra", sa.Date(), nullable=True),
        sa.Column("total_compras", sa.Integer(), nullable=True),
        sa.Column("valor_total_compras", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("total_pagamentos_em_dia", sa.Integer(), nullable=True),
        sa.Column("total_atrasos", sa.Integer(), nullable=True),
        sa.Column("maior_atraso", sa.Integer(), nullable=True),
        sa.Column("scoreProbInadimplencia", sa.Double(), nullable=True),
        sa.Column("faixaScore", sa.String(length=1), nullable=True),
        sa.Column("motivoExclusao", sa.String(length=40), nullable=True),
        sa.Column("modelName", sa.String(length=64), nullable=True),
        sa.Column("modelVersion", sa.String(length=32), nullable=True),
        sa.Column("createdAt", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["clientId"], ["clients.id"], name=op.f("fk_score_snapshots_clientId_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_snapshots")),
        sa.UniqueConstraint("scoreId", name=op.f("uq_score_snapshots_scoreId")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    op.create_index(
        "ix_score_snapshots_link",
        "score_snapshots",
        ["clientId", "cpfHash", "produto", "dataProcessamento"],
        unique=False,
    )
    op.create_index(
        "ix_score_snapshots_dataProcessamento",
        "score_snapshots",
        ["dataProcessamento"],
        unique=False,
    )
    # A capture replaces a reprocessed job's older snapshots: by job, then by createdAt.
    op.create_index(
        "ix_score_snapshots_batchJobId_createdAt",
        "score_snapshots",
        ["batchJobId", "createdAt"],
        unique=False,
    )
    op.create_table(
        "score_snapshot_jobs",
        # One row per completed job whose rows are all in score_snapshots; finishedAt is the
        # job's when it was copied (a reprocessed job finishes again, later, and is copied again).
        sa.Column("batchJobId", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("clientId", sa.Integer(), nullable=False),
        sa.Column("finishedAt", sa.DateTime(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("capturedAt", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("batchJobId", name=op.f("pk_score_snapshot_jobs")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )


def downgrade() -> None:
    op.drop_table("score_snapshot_jobs")
    op.drop_index("ix_score_snapshots_batchJobId_createdAt", table_name="score_snapshots")
    op.drop_index("ix_score_snapshots_dataProcessamento", table_name="score_snapshots")
    op.drop_index("ix_score_snapshots_link", table_name="score_snapshots")
    op.drop_table("score_snapshots")
