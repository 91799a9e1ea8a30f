"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27 14:59:56.242203
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bureau_cache",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("cpf", sa.String(length=11), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("createdAt", sa.DateTime(), nullable=False),
        sa.Column("expiresAt", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bureau_cache")),
        sa.UniqueConstraint("provider", "cpf", name=op.f("uq_bureau_cache_provider_cpf")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    with op.batch_alter_table("bureau_cache", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bureau_cache_expiresAt"), ["expiresAt"], unique=False)

    op.create_table(
        "clients",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("contactEmail", sa.String(length=254), nullable=True),
        sa.Column("supportPlan", sa.Boolean(), nullable=False),
        sa.Column("createdAt", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clients")),
        sa.UniqueConstraint("name", name=op.f("uq_clients_name")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    op.create_table(
        "models",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(length=40), nullable=False),
        sa.Column("artifactPath", sa.String(length=512), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("metrics", sa.Text(), nullable=True),
        sa.Column("createdAt", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_models")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_models_name_version")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_models_product"), ["product"], unique=False)

    op.create_table(
        "production_models",
        sa.Column("product", sa.String(length=40), nullable=False),
        sa.Column("modelId", sa.Integer(), nullable=False),
        sa.Column("promotedAt", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["modelId"], ["models.id"], name=op.f("fk_production_models_modelId_models")
        ),
        sa.PrimaryKeyConstraint("product", name=op.f("pk_production_models")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("passwordHash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("clientId", sa.Integer(), nullable=True),
        sa.Column("isActive", sa.Boolean(), nullable=False),
        sa.Column("lastLoginAt", sa.DateTime(), nullable=True),
        sa.Column("createdAt", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["clientId"], ["clients.id"], name=op.f("fk_users_clientId_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    op.create_table(
        "batch_jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("clientId", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("fileName", sa.String(length=255), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("createdAt", sa.DateTime(), nullable=False),
        sa.Column("updatedAt", sa.DateTime(), nullable=False),
        sa.Column("startedAt", sa.DateTime(), nullable=True),
        sa.Column("finishedAt", sa.DateTime(), nullable=True),
        sa.Column("storagePath", sa.String(length=512), nullable=False),
        sa.Column("fileSha256", sa.String(length=64), nullable=False),
        sa.Column("fileSize", sa.BigInteger(), nullable=False),
        sa.Column("rowsTotal", sa.Integer(), nullable=True),
        sa.Column("rowsProcessed", sa.Integer(), nullable=False),
        sa.Column("rowsScored", sa.Integer(), nullable=False),
        sa.Column("rowsExcluded", sa.Integer(), nullable=False),
        sa.Column("modelVersions", sa.Text(), nullable=True),
        sa.Column("referenceDate", sa.Date(), nullable=True),
        sa.Column("workerId", sa.String(length=64), nullable=True),
        sa.Column("heartbeatAt", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("submittedBy", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["clientId"], ["clients.id"], name=op.f("fk_batch_jobs_clientId_clients")
        ),
        sa.ForeignKeyConstraint(
            ["submittedBy"], ["users.id"], name=op.f("fk_batch_jobs_submittedBy_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_jobs")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    with op.batch_alter_table("batch_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_batch_jobs_clientId"), ["clientId"], unique=False)
        batch_op.create_index("ix_batch_jobs_createdAt", ["createdAt"], unique=False)
        batch_op.create_index(
            "ix_batch_jobs_status_createdAt", ["status", "createdAt"], unique=False
        )

    op.create_table(
        "customer_scores",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("batchJobId", sa.Integer(), nullable=False),
        sa.Column("clientId", sa.Integer(), nullable=False),
        sa.Column("rowNumber", sa.Integer(), nullable=False),
        sa.Column("cpf", sa.String(length=14), nullable=True),
        sa.Column("nome", sa.String(length=200), nullable=True),
        sa.Column("produto", sa.String(length=40), nullable=True),
        sa.Column("data_primeira_compra", sa.Date(), nullable=True),
        sa.Column("data_ultima_compra", sa.Date(), nullable=True),
        sa.Column("total_compras", sa.Integer(), nullable=True),
        sa.Column("valor_total_compras", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("total_pagamentos_em_dia", sa.Integer(), nullable=True),
        sa.Column("total_atrasos", sa.Integer(), nullable=True),
        sa.Column("maior_atraso", sa.Integer(), nullable=True),
        sa.Column("scoreProbInadimplencia", sa.Double(), nullable=True),
        sa.Column("score", sa.SmallInteger(), nullable=True),
        sa.Column("faixaScore", sa.String(length=1), nullable=True),
        sa.Column("reasonCode1", sa.String(length=40), nullable=True),
        sa.Column("reasonCode2", sa.String(length=40), nullable=True),
        sa.Column("reasonCode3", sa.String(length=40), nullable=True),
        sa.Column("modelName", sa.String(length=64), nullable=True),
        sa.Column("modelVersion", sa.String(length=32), nullable=True),
        sa.Column("motivoExclusao", sa.String(length=40), nullable=True),
        sa.Column("dataProcessamento", sa.DateTime(), nullable=False),
        sa.Column("createdAt", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batchJobId"],
            ["batch_jobs.id"],
            name=op.f("fk_customer_scores_batchJobId_batch_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_scores")),
        sa.UniqueConstraint(
            "batchJobId", "rowNumber", name=op.f("uq_customer_scores_batchJobId_rowNumber")
        ),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    with op.batch_alter_table("customer_scores", schema=None) as batch_op:
        batch_op.create_index(
            "ix_customer_scores_dataProcessamento", ["dataProcessamento"], unique=False
        )
        batch_op.create_index(
            "ix_customer_scores_produto_dataProcessamento",
            ["produto", "dataProcessamento"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("customer_scores", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_scores_produto_dataProcessamento")
        batch_op.drop_index("ix_customer_scores_dataProcessamento")

    op.drop_table("customer_scores")
    with op.batch_alter_table("batch_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_batch_jobs_status_createdAt")
        batch_op.drop_index("ix_batch_jobs_createdAt")
        batch_op.drop_index(batch_op.f("ix_batch_jobs_clientId"))

    op.drop_table("batch_jobs")
    op.drop_table("users")
    op.drop_table("production_models")
    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_models_product"))

    op.drop_table("models")
    op.drop_table("clients")
    with op.batch_alter_table("bureau_cache", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bureau_cache_expiresAt"))

    op.drop_table("bureau_cache")
