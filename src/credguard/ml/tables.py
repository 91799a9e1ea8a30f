"""ORM mapping of ``models``, ``production_models`` (one per product) and ``model_promotions``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
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
    #: Its version in the MLflow registry (same name), once mirrored there.
    mlflow_version: Mapped[int | None] = mapped_column("mlflowVersion", Integer, default=None)
    mlflow_run_id: Mapped[str | None] = mapped_column("mlflowRunId", String(64), default=None)


class ProductionModel(Base):
    """Which model scores a product now."""

    __tablename__ = "production_models"

    product: Mapped[str] = mapped_column(String(40), primary_key=True)
    model_id: Mapped[int] = mapped_column("modelId", ForeignKey("models.id"))
    promoted_at: Mapped[datetime] = mapped_column("promotedAt", DateTime, default=utcnow)


class ModelPromotion(Base):
    """One change of a product's production model: who, when, why, from which to which."""

    __tablename__ = "model_promotions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    product: Mapped[str] = mapped_column(String(40), index=True)
    action: Mapped[str] = mapped_column(String(16))  # promote | rollback
    from_model_id: Mapped[int | None] = mapped_column(
        "fromModelId", ForeignKey("models.id"), default=None
    )
    to_model_id: Mapped[int] = mapped_column("toModelId", ForeignKey("models.id"))
    reason: Mapped[str] = mapped_column(String(500))
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    promoted_by: Mapped[int | None] = mapped_column("promotedBy", ForeignKey("users.id"))
    gates: Mapped[str | None] = mapped_column(Text, default=None)  # JSON: the checks and figures
    created_at: Mapped[datetime] = mapped_column("createdAt", DateTime, default=utcnow)


class RetrainingRequest(Base):
    """Someone (a client, an analyst) asked for a product's model to be retrained."""

    __tablename__ = "retraining_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    product: Mapped[str] = mapped_column(String(40), index=True)
    reason: Mapped[str] = mapped_column(String(500))
    requested_by: Mapped[str] = mapped_column("requestedBy", String(200))
    created_at: Mapped[datetime] = mapped_column("createdAt", DateTime, default=utcnow)
