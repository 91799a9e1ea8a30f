"""ORM mapping of ``clients`` and ``users``."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from credguard.db.base import Base, utcnow


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    ANALYST = "analyst"


class Client(Base):
    """A client company; ``supportPlan`` is the *plano de sustentação*."""

    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    contact_email: Mapped[str | None] = mapped_column("contactEmail", String(254), default=None)
    support_plan: Mapped[bool] = mapped_column("supportPlan", Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column("createdAt", DateTime, default=utcnow)


class User(Base):
    """A person who logs in; analysts belong to one client, staff to none."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column("passwordHash", String(255))
    role: Mapped[str] = mapped_column(String(16))
    client_id: Mapped[int | None] = mapped_column(
        "clientId", ForeignKey("clients.id"), default=None
    )
    is_active: Mapped[bool] = mapped_column("isActive", Boolean, default=True)
    last_login_at: Mapped[datetime | None] = mapped_column("lastLoginAt", DateTime, default=None)
    created_at: Mapped[datetime] = mapped_column("createdAt", DateTime, default=utcnow)


class ApiToken(Base):
    """A long-lived token for an integration: only its SHA-256 is stored; shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column("userId", ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column("tokenHash", String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column("createdAt", DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column("lastUsedAt", DateTime, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column("revokedAt", DateTime, default=None)
