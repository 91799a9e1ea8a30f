"""ORM mapping of ``drift_results``: one row per product × scope × day (migration 0009)."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from credguard.db.base import Base, utcnow

#: ``scope`` of the result over every client together; a client's is ``client:<id>``.
ALL_CLIENTS = "all"


def client_scope(client_id: int | None) -> str:
    """The ``scope`` value of one client (or of all clients for None)."""
    return ALL_CLIENTS if client_id is None else f"client:{client_id}"


class DriftResult(Base):
    """A product's drift over one window, for all clients or one, as computed on ``dia``.

    The three JSON columns hold what a page renders (see :mod:`credguard.drift.stats`): the score
    bins (reference vs current shares), every feature's drift and the performance (observed
    and/or estimated), each with its status, thresholds and definition.
    """

    __tablename__ = "drift_results"
    __table_args__ = (UniqueConstraint("produto", "scope", "dia"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    produto: Mapped[str] = mapped_column(String(40))
    client_id: Mapped[int | None] = mapped_column(
        "clientId", ForeignKey("clients.id"), default=None
    )
    scope: Mapped[str] = mapped_column(String(32))
    dia: Mapped[date] = mapped_column(Date, index=True)
    window_start: Mapped[datetime] = mapped_column("windowStart", DateTime)
    window_end: Mapped[datetime] = mapped_column("windowEnd", DateTime)
    model_id: Mapped[int | None] = mapped_column("modelId", ForeignKey("models.id"), default=None)
    n_current: Mapped[int] = mapped_column("nCurrent", Integer)
    n_reference: Mapped[int] = mapped_column("nReference", Integer)
    psi: Mapped[float | None] = mapped_column(Float, default=None)
    psi_critical: Mapped[float | None] = mapped_column("psiCritical", Float, default=None)
    psi_status: Mapped[str] = mapped_column("psiStatus", String(24))
    feature_status: Mapped[str] = mapped_column("featureStatus", String(24))
    performance_status: Mapped[str] = mapped_column("performanceStatus", String(24))
    feature_drift: Mapped[str | None] = mapped_column("featureDrift", Text, default=None)
    score_distribution: Mapped[str | None] = mapped_column("scoreDistribution", Text, default=None)
    performance: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column("createdAt", DateTime, default=utcnow)

    def parts(self) -> dict[str, Any]:
        """The JSON columns, parsed: ``scoreDistribution``, ``featureDrift``, ``performance``."""
        return {
            "scoreDistribution": _load(self.score_distribution),
            "featureDrift": _load(self.feature_drift),
            "performance": _load(self.performance),
        }


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)
