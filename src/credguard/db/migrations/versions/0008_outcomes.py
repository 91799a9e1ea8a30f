"""observed outcomes: the pseudonymised training store

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "observed_outcomes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("clientId", sa.Integer(), nullable=False),
        sa.Column("cpfHash", sa.String(length=64), nullable=False),
        sa.Column("produto", sa.String(length=40), nullable=False),
        sa.Column("inadimplente", sa.Boolean(), nullable=False),
        sa.Column("dataReferencia", sa.Date(), nullable=False),
        # No foreign keys to customer_scores / batch_jobs: the 90-day archival deletes those.
        sa.Column("scoreId", sa.BigInteger(), nullable=True),
        sa.Column("batchJobId", sa.Integer(), nullable=True),
        sa.Column("modelName", sa.String(length=64), nullable=True),
        sa.Column("modelVersion", sa.String(length=32), nullable=True),
        sa.Column("scoreProbInadimplencia", sa.Double(), nullable=True),
        sa.Column("faixaScore", sa.String(length=1), nullable=True),
        sa.Column("motivoExclusao", sa.String(length=40), nullable=True),
        sa.Column("dataProcessamento", sa.DateTime(), nullable=True),
        sa.Column("scoreReferenceDate", sa.Date(), nullable=True),
        sa.Column("data_primeira_compra", sa.Date(), nullable=True),
        sa.Column("data_ultima_compra", sa.Date(), nullable=True),
        sa.Column("total_compras", sa.Integer(), nullable=True),
        sa.Column("valor_total_compras", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("total_pagamentos_em_dia", sa.Integer(), nullable=True),
        sa.Column("total_atrasos", sa.Integer(), nullable=True),
        sa.Column("maior_atraso", sa.Integer(), nullable=True),
        sa.Column("createdAt", sa.DateTime(), nullable=False),
        sa.Column("updatedAt", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["clientId"], ["clients.id"], name=op.f("fk_observed_outcomes_clientId_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observed_outcomes")),
        sa.UniqueConstraint(
            "clientId",
            "cpfHash",
            "produto",
            "dataReferencia",
            name=op.f("uq_observed_outcomes_clientId_cpfHash_produto_dataReferencia"),
        ),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    op.create_index(
        "ix_observed_outcomes_produto_dataReferencia",
        "observed_outcomes",
        ["produto", "dataReferencia"],
        unique=False,
    )
    op.create_index(
        "ix_observed_outcomes_dataReferencia",
        "observed_outcomes",
        ["dataReferencia"],
        unique=False,
    )
    op.create_index("ix_observed_outcomes_scoreId", "observed_outcomes", ["scoreId"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_observed_outcomes_scoreId", table_name="observed_outcomes")
    op.drop_index("ix_observed_outcomes_dataReferencia", table_name="observed_outcomes")
    op.drop_index("ix_observed_outcomes_produto_dataReferencia", table_name="observed_outcomes")
    op.drop_table("observed_outcomes")
