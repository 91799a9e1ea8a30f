"""ORM mapping of ``observed_outcomes``, the pseudonymised training store."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from credguard.db.base import Base, utcnow


class ObservedOutcome(Base):
    """One customer's outcome for one product at a date, with a copy of the score it judges.

    Never holds the CPF or the name: ``cpfHash`` is HMAC-SHA256 of the 11-digit CPF under the
    pseudonym key. ``scoreId`` and ``batchJobId`` are plain numbers, not foreign keys: the
    runbook's archival deletes ``customer_scores`` and ``batch_jobs`` rows after 90 days, and must
    neither be blocked by this table nor empty it. Unlinked outcomes (no score found) have null
    score and feature columns.
    """

    __tablename__ = "observed_outcomes"
    __table_args__ = (
        UniqueConstraint("clientId", "cpfHash", "produto", "dataReferencia"),
        Index("ix_observed_outcomes_produto_dataReferencia", "produto", "dataReferencia"),
        Index("ix_observed_outcomes_dataReferencia", "dataReferencia"),
        Index("ix_observed_outcomes_scoreId", "scoreId"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    client_id: Mapped[int] = mapped_column("clientId", ForeignKey("clients.id"))
    cpf_hash: Mapped[str] = mapped_column("cpfHash", String(64))
    produto: Mapped[str] = mapped_column(String(40))
    inadimplente: Mapped[bool] = mapped_column(Boolean)
    data_referencia: Mapped[date] = mapped_column("dataReferencia", Date)
    # The linked score (copied: the score itself is archived after 90 days).
    score_id: Mapped[int | None] = mapped_column("scoreId", BigInteger, default=None)
    batch_job_id: Mapped[int | None] = mapped_column("batchJobId", Integer, default=None)
    model_name: Mapped[str | None] = mapped_column("modelName", String(64), default=None)
    model_version: Mapped[str | None] = mapped_column("modelVersion", String(32), default=None)
    score_prob: Mapped[float | None] = mapped_column("scoreProbInadimplencia", Double, default=None)
    faixa_score: Mapped[str | None] = mapped_column("faixaScore", String(1), default=None)
    motivo_exclusao: Mapped[str | None] = mapped_column("motivoExclusao", String(40), default=None)
    data_processamento: Mapped[datetime | None] = mapped_column(
        "dataProcessamento", DateTime, default=None
    )
    #: The day the score's features were computed at (its batch job's reference date).
    score_reference_date: Mapped[date | None] = mapped_column(
        "scoreReferenceDate", Date, default=None
    )
    # The scored row's input features, as validation normalised them.
    data_primeira_compra: Mapped[date | None] = mapped_column(Date, default=None)
    data_ultima_compra: Mapped[date | None] = mapped_column(Date, default=None)
    total_compras: Mapped[int | None] = mapped_column(Integer, default=None)
    valor_total_compras: Mapped[Decimal | None] = mapped_column(Numeric(14, 2), default=None)
    total_pagamentos_em_dia: Mapped[int | None] = mapped_column(Integer, default=None)
    total_atrasos: Mapped[int | None] = mapped_column(Integer, default=None)
    maior_atraso: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column("createdAt", DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column("updatedAt", DateTime, default=utcnow)
