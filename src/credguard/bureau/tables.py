"""ORM mapping of ``bureau_cache``: bureau answers kept until ``expiresAt``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from credguard.db.base import Base, utcnow


class BureauCacheEntry(Base):
    __tablename__ = "bureau_cache"
    __table_args__ = (UniqueConstraint("provider", "cpf"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(40))
    cpf: Mapped[str] = mapped_column(String(11))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column("createdAt", DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column("expiresAt", DateTime, index=True)
