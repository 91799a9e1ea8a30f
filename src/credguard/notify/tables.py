"""ORM mapping of ``email_outbox``."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from credguard.db.base import Base, utcnow


class MailStatus(StrEnum):
    PENDING = "pending"  # waiting for its nextAttemptAt
    SENDING = "sending"  # claimed by a sender at claimedAt
    SENT = "sent"
    FAILED = "failed"  # refused for good, or out of attempts


class OutboxMail(Base):
    """One mail to send; ``dedupeKey`` names what it is about, so it is never queued twice."""

    __tablename__ = "email_outbox"
    __table_args__ = (Index("ix_email_outbox_status", "status", "nextAttemptAt"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column("dedupeKey", String(190), unique=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=MailStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column("nextAttemptAt", DateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column("claimedAt", DateTime, default=None)
    last_error: Mapped[str | None] = mapped_column("lastError", String(500), default=None)
    client_id: Mapped[int | None] = mapped_column(
        "clientId", ForeignKey("clients.id"), default=None
    )
    incident_id: Mapped[int | None] = mapped_column(
        "incidentId", ForeignKey("incidents.id"), default=None
    )
    created_at: Mapped[datetime] = mapped_column("createdAt", DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column("sentAt", DateTime, default=None)
