"""incidents (one open per source × product × scope) and the e-mail outbox

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),  # e.g. drift
        sa.Column("produto", sa.String(length=40), nullable=True),
        sa.Column("clientId", sa.Integer(), nullable=True),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=2), nullable=False),  # P1 … P4
        sa.Column("status", sa.String(length=16), nullable=False),  # open|acknowledged|resolved
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("details", sa.Text(), nullable=True),
        # "<source>:<produto>:<scope>" while not resolved, NULL after: one open incident each.
        sa.Column("openKey", sa.String(length=120), nullable=True),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("openedAt", sa.DateTime(), nullable=False),
        sa.Column("lastSeenAt", sa.DateTime(), nullable=False),
        sa.Column("responseDueAt", sa.DateTime(), nullable=False),
        sa.Column("escalation", sa.String(length=200), nullable=False),
        sa.Column("acknowledgedAt", sa.DateTime(), nullable=True),
        sa.Column("acknowledgedBy", sa.String(length=254), nullable=True),
        sa.Column("resolvedAt", sa.DateTime(), nullable=True),
        sa.Column("resolvedBy", sa.String(length=254), nullable=True),
        sa.Column("resolution", sa.String(length=500), nullable=True),
        # What became of telling the client (or operations): queued to whom, or why not.
        sa.Column("notification", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["clientId"], ["clients.id"], name=op.f("fk_incidents_clientId_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
        sa.UniqueConstraint("openKey", name=op.f("uq_incidents_openKey")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    op.create_index(op.f("ix_incidents_status"), "incidents", ["status"], unique=False)
    op.create_table(
        "email_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        # What the mail is about, e.g. "incident:12:client-notice": the same key is never queued
        # (so never sent) twice.
        sa.Column("dedupeKey", sa.String(length=190), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),  # pending|sending|sent|failed
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("nextAttemptAt", sa.DateTime(), nullable=False),
        sa.Column("claimedAt", sa.DateTime(), nullable=True),
        sa.Column("lastError", sa.String(length=500), nullable=True),
        sa.Column("clientId", sa.Integer(), nullable=True),
        sa.Column("incidentId", sa.Integer(), nullable=True),
        sa.Column("createdAt", sa.DateTime(), nullable=False),
        sa.Column("sentAt", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["clientId"], ["clients.id"], name=op.f("fk_email_outbox_clientId_clients")
        ),
        sa.ForeignKeyConstraint(
            ["incidentId"], ["incidents.id"], name=op.f("fk_email_outbox_incidentId_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_outbox")),
        sa.UniqueConstraint("dedupeKey", name=op.f("uq_email_outbox_dedupeKey")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    op.create_index(
        op.f("ix_email_outbox_status"), "email_outbox", ["status", "nextAttemptAt"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_email_outbox_status"), table_name="email_outbox")
    op.drop_table("email_outbox")
    op.drop_index(op.f("ix_incidents_status"), table_name="incidents")
    op.drop_table("incidents")
