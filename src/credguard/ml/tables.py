"""ORM mapping of ``models`` (every trained model) and ``production_models`` (one per product)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from credguard.db.base import Base, utcnow


class ModelRecord(Base):
    """A trained model artefact: where it lives, its checksum and its metrics."""

    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    product: Mapped[str] = mapped_column(String(40), index=True)
    artifact_path: Mapped[str] = mapped_column("artifactPath", String(512))
    sha256: Mapped[str] = mapped_column(String(64))
    metrics: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column("createdAt", DateTime, default=utcnow)


class ProductionModel(Base):
    """Which model scores a product now."""

    __tablename__ = "production_models"

    product: Mapped[str] = mapped_column(String(40), primary_key=True)
    model_id: Mapped[int] = mapped_column("modelId", ForeignKey("models.id"))
    promoted_at: Mapped[datetime] = mapped_column("promotedAt", DateTime, default=utcnow)
