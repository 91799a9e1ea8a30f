"""ORM mapping of ``login_attempts`` and ``ip_blocks``."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, DateTime, Index, Integer, String
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from credguard.db.base import Base, utcnow


class LoginOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"  #: wrong e-mail or password
    THROTTLED = "throttled"  #: refused with 429 before any password check


class LoginAttempt(Base):
    """Every login, successful or not: time, account, client IP, outcome."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_email_createdAt", "email", "createdAt"),
        Index("ix_login_attempts_clientIp_createdAt", "clientIp", "createdAt"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(254))
    client_ip: Mapped[str] = mapped_column("clientIp", String(45))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    outcome: Mapped[str] = mapped_column(
        String(16), default=LoginOutcome.FAILED, server_default=LoginOutcome.FAILED.value
    )
    # Microseconds on MariaDB/MySQL too (DATETIME(6); SQLite keeps them anyway): the throttle's
    # wait is last failure + delay - now, and a failure truncated to the second would shorten it
    # by up to a second, letting the next attempt through before a 1 s delay is over.
    created_at: Mapped[datetime] = mapped_column(
        "createdAt",
        DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb"),
        default=utcnow,
    )


class IpBlock(Base):
    """An address or network (CIDR) answered with 403 until ``expiresAt`` (never, if null)."""

    __tablename__ = "ip_blocks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    network: Mapped[str] = mapped_column(String(49), unique=True)
    reason: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime] = mapped_column("createdAt", DateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column("expiresAt", DateTime, default=None)
