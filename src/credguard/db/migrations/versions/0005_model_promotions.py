"""model promotions: every change of a product's production model

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 19:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_promotions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("product", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("fromModelId", sa.Integer(), nullable=True),
        sa.Column("toModelId", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("promotedBy", sa.Integer(), nullable=True),
        sa.Column("gates", sa.Text(), nullable=True),
        sa.Column("createdAt", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["fromModelId"], ["models.id"], name=op.f("fk_model_promotions_fromModelId_models")
        ),
        sa.ForeignKeyConstraint(
            ["toModelId"], ["models.id"], name=op.f("fk_model_promotions_toModelId_models")
        ),
        sa.ForeignKeyConstraint(
            ["promotedBy"], ["users.id"], name=op.f("fk_model_promotions_promotedBy_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_promotions")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    op.create_index(
        op.f("ix_model_promotions_product"), "model_promotions", ["product"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_model_promotions_product"), table_name="model_promotions")
    op.drop_table("model_promotions")
