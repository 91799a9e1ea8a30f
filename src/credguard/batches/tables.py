"""ORM mapping of ``batch_jobs`` and ``customer_scores`` with the runbook's column names."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from credguard.db.base import Base, utcnow


class BatchStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class BatchJob(Base):
    """One uploaded file and its processing state; the database is the source of truth."""

    __tablename__ = "batch_jobs"
    __table_args__ = (
        Index("ix_batch_jobs_status_createdAt", "status", "createdAt"),
        Index("ix_batch_jobs_createdAt", "createdAt"),
        UniqueConstraint("clientId", "idempotencyKey"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[int] = mapped_column("clientId", ForeignKey("clients.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=BatchStatus.PENDING)
    file_name: Mapped[str] = mapped_column("fileName", String(255))
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column("createdAt", DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column("updatedAt", DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column("startedAt", DateTime, default=None)
    finished_at: Mapped[datetime | None] = mapped_column("finishedAt", DateTime, default=None)
    storage_path: Mapped[str] = mapped_column("storagePath", String(512))
    file_sha256: Mapped[str] = mapped_column("fileSha256", String(64))
    file_size: Mapped[int] = mapped_column("fileSize", BigInteger)
    rows_total: Mapped[int | None] = mapped_column("rowsTotal", Integer, default=None)
    rows_processed: Mapped[int] = mapped_column("rowsProcessed", Integer, default=0)
    rows_scored: Mapped[int] = mapped_column("rowsScored", Integer, default=0)
    rows_excluded: Mapped[int] = mapped_column("rowsExcluded", Integer, default=0)
    models: Mapped[str | None] = mapped_column("modelVersions", Text, default=None)
    reference_date: Mapped[date | None] = mapped_column("referenceDate", Date, default=None)
    worker_id: Mapped[str | None] = mapped_column("workerId", String(64), default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column("heartbeatAt", DateTime, default=None)
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    submitted_by: Mapped[int | None] = mapped_column(
        "submittedBy", ForeignKey("users.id"), default=None
    )
    idempotency_key: Mapped[str | None] = mapped_column("idempotencyKey", String(128), default=None)

    @property
    def progress(self) -> float:
        """Share of rows processed, 0–1 (estimated until the job completes)."""
        if self.status == BatchStatus.COMPLETED:
            return 1.0
        if not self.rows_total:
            return 0.0
        return min(self.rows_processed / self.rows_total, 0.99)


class CustomerScore(Base):
    """One input row of a batch: its normalised values and either a score or an exclusion."""

    __tablename__ = "customer_scores"
    __table_args__ = (
        UniqueConstraint("batchJobId", "rowNumber"),
        Index("ix_customer_scores_dataProcessamento", "dataProcessamento"),
        Index("ix_customer_scores_produto_dataProcessamento", "produto", "dataProcessamento"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    batch_job_id: Mapped[int] = mapped_column(
        "batchJobId", ForeignKey("batch_jobs.id", ondelete="CASCADE")
    )
    client_id: Mapped[int] = mapped_column("clientId", Integer)
    row_number: Mapped[int] = mapped_column("rowNumber", Integer)
    cpf: Mapped[str | None] = mapped_column(String(14))
    nome: Mapped[str | None] = mapped_column(String(200))
    produto: Mapped[str | None] = mapped_column(String(40))
    data_primeira_compra: Mapped[date | None] = mapped_column(Date)
    data_ultima_compra: Mapped[date | None] = mapped_column(Date)
    total_compras: Mapped[int | None] = mapped_column(Integer)
    valor_total_compras: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    total_pagamentos_em_dia: Mapped[int | None] = mapped_column(Integer)
    total_atrasos: Mapped[int | None] = mapped_column(Integer)
    maior_atraso: Mapped[int | None] = mapped_column(Integer)
    score_prob: Mapped[float | None] = mapped_column("scoreProbInadimplencia", Double)
    score: Mapped[int | None] = mapped_column(SmallInteger)
    faixa_score: Mapped[str | None] = mapped_column("faixaScore", String(1))
    reason_code_1: Mapped[str | None] = mapped_column("reasonCode1", String(40))
    reason_code_2: Mapped[str | None] = mapped_column("reasonCode2", String(40))
    reason_code_3: Mapped[str | None] = mapped_column("reasonCode3", String(40))
    model_name: Mapped[str | None] = mapped_column("modelName", String(64))
    model_version: Mapped[str | None] = mapped_column("modelVersion", String(32))
    motivo_exclusao: Mapped[str | None] = mapped_column("motivoExclusao", String(40))
    data_processamento: Mapped[datetime] = mapped_column("dataProcessamento", DateTime)
    created_at: Mapped[datetime] = mapped_column("createdAt", DateTime, default=utcnow)
