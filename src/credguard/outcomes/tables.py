"""ORM mapping of the pseudonymised training store: ``score_snapshots`` and ``observed_outcomes``."""

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


class _ScoredRow:
    """The columns both tables copy from a scored ``customer_scores`` row: the model and what it
    said, the day its features were computed at (its batch job's reference date) and the input
    features as validation normalised them."""

    model_name: Mapped[str | None] = mapped_column("modelName", String(64), default=None)
    model_version: Mapped[str | None] = mapped_column("modelVersion", String(32), default=None)
    score_prob: Mapped[float | None] = mapped_column("scoreProbInadimplencia", Double, default=None)
    faixa_score: Mapped[str | None] = mapped_column("faixaScore", String(1), default=None)
    motivo_exclusao: Mapped[str | None] = mapped_column("motivoExclusao", String(40), default=None)
    score_reference_date: Mapped[date | None] = mapped_column(
        "scoreReferenceDate", Date, default=None
    )
    data_primeira_compra: Mapped[date | None] = mapped_column(Date, default=None)
    data_ultima_compra: Mapped[date | None] = mapped_column(Date, default=None)
    total_compras: Mapped[int | None] = mapped_column(Integer, default=None)
    valor_total_compras: Mapped[Decimal | None] = mapped_column(Numeric(14, 2), default=None)
    total_pagamentos_em_dia: Mapped[int | None] = mapped_column(Integer, default=None)
    total_atrasos: Mapped[int | None] = mapped_column(Integer, default=None)
    maior_atraso: Mapped[int | None] = mapped_column(Integer, default=None)


class ObservedOutcome(_ScoredRow, Base):
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
    data_processamento: Mapped[datetime | None] = mapped_column(
        "dataProcessamento", DateTime, default=None
    )
    created_at: Mapped[datetime] = mapped_column("createdAt", DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column("updatedAt", DateTime, default=utcnow)


class ScoreSnapshot(_ScoredRow, Base):
    """A pseudonymised copy of one ``customer_scores`` row of a completed job, for linking outcomes.

    Outcomes arrive months after the scoring they judge, long after the runbook's 90-day archival
    has deleted the row: this copy stays (see :mod:`credguard.outcomes.snapshots`). No CPF, no
    name; ``scoreId`` (the original row's id, unique: a row is copied once) and ``batchJobId``
    are plain numbers for the same reason as in :class:`ObservedOutcome`.
    """

    __tablename__ = "score_snapshots"
    __table_args__ = (
        UniqueConstraint("scoreId"),
        Index("ix_score_snapshots_link", "clientId", "cpfHash", "produto", "dataProcessamento"),
        Index("ix_score_snapshots_dataProcessamento", "dataProcessamento"),
        Index("ix_score_snapshots_batchJobId_createdAt", "batchJobId", "createdAt"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    client_id: Mapped[int] = mapped_column("clientId", ForeignKey("clients.id"))
    cpf_hash: Mapped[str] = mapped_column("cpfHash", String(64))
    produto: Mapped[str] = mapped_column(String(40))
    batch_job_id: Mapped[int] = mapped_column("batchJobId", Integer)
    score_id: Mapped[int] = mapped_column("scoreId", BigInteger)
    data_processamento: Mapped[datetime] = mapped_column("dataProcessamento", DateTime)
    created_at: Mapped[datetime] = mapped_column("createdAt", DateTime, default=utcnow)


class ScoreSnapshotJob(Base):
    """A completed job whose rows are all in ``score_snapshots``: capture skips it.

    ``finishedAt`` is the job's at capture: a reprocessed job finishes again with another and is
    captured again. No foreign key: the job is archived after 90 days, this row is purged then.
    """

    __tablename__ = "score_snapshot_jobs"

    batch_job_id: Mapped[int] = mapped_column(
        "batchJobId", Integer, primary_key=True, autoincrement=False
    )
    client_id: Mapped[int] = mapped_column("clientId", Integer)
    finished_at: Mapped[datetime | None] = mapped_column("finishedAt", DateTime, default=None)
    rows: Mapped[int] = mapped_column(Integer)
    captured_at: Mapped[datetime] = mapped_column("capturedAt", DateTime, default=utcnow)
