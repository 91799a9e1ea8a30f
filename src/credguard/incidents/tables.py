"""ORM mapping of ``incidents``."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from credguard.db.base import Base


class IncidentStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Incident(Base):
    """One problem, from its first detection to its resolution.

    ``openKey`` is ``"<source>:<produto>:<scope>"`` while the incident is not resolved and NULL
    after: its unique constraint allows one unresolved incident per source × product × scope
    (``scope`` is ``"all"`` or ``"client:<id>"``, as in ``drift_results``), whoever reports it.
    """

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    produto: Mapped[str | None] = mapped_column(String(40), default=None)
    client_id: Mapped[int | None] = mapped_column(
        "clientId", ForeignKey("clients.id"), default=None
    )
    scope: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(16), index=True)
    title: Mapped[str] = mapped_column(String(200))
    details: Mapped[str | None] = mapped_column(Text, default=None)
    open_key: Mapped[str | None] = mapped_column("openKey", String(120), unique=True)
    occurrences: Mapped[int] = mapped_column(Integer)
    opened_at: Mapped[datetime] = mapped_column("openedAt", DateTime)
    last_seen_at: Mapped[datetime] = mapped_column("lastSeenAt", DateTime)
    response_due_at: Mapped[datetime] = mapped_column("responseDueAt", DateTime)
    escalation: Mapped[str] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None] = mapped_column(
        "acknowledgedAt", DateTime, default=None
    )
    acknowledged_by: Mapped[str | None] = mapped_column("acknowledgedBy", String(254), default=None)
    resolved_at: Mapped[datetime | None] = mapped_column("resolvedAt", DateTime, default=None)
    resolved_by: Mapped[str | None] = mapped_column("resolvedBy", String(254), default=None)
    resolution: Mapped[str | None] = mapped_column(String(500), default=None)
    notification: Mapped[str | None] = mapped_column(String(300), default=None)
