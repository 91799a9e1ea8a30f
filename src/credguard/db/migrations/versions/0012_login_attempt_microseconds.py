"""login attempt times keep microseconds on MariaDB/MySQL (DATETIME(6)): the login throttle
measures its wait from the last failure, and a time truncated to the second shortened it

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28 00:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite stores datetimes as text with microseconds already: nothing to do there.
    if op.get_bind().dialect.name not in ("mysql", "mariadb"):
        return
    op.alter_column(
        "login_attempts",
        "createdAt",
        existing_type=sa.DateTime(),
        type_=mysql.DATETIME(fsp=6),
        existing_nullable=False,
    )


def downgrade() -> None:
    if op.get_bind().dialect.name not in ("mysql", "mariadb"):
        return
    # Back to whole seconds: MariaDB truncates the fractions of the rows already stored.
    op.alter_column(
        "login_attempts",
        "createdAt",
        existing_type=mysql.DATETIME(fsp=6),
        type_=sa.DateTime(),
        existing_nullable=False,
    )
