"""The training export: features and observed outcomes of one product, without CPFs or names.

One row per linked score whose row was scored (no ``motivoExclusao``), for outcomes whose
``dataReferencia`` falls in the period. Columns: ``produto``, the seven input columns,
``data_referencia`` — the day the features were computed at (the reference date of the scoring
the outcome is linked to; features count days up to it) — and ``label``, 1 if the customer
defaulted. When several outcomes judge the same score (a client reporting a customer every
month), they make one row whose label is 1 if any of them is a default. `credguard models
train` reads this file as it is.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, case, func, select

from credguard.db.engine import session_scope
from credguard.outcomes.tables import ObservedOutcome as Outcome
from credguard.scoring.features import INPUT_COLUMNS

#: Scores exported per query.
CHUNK_ROWS = 50_000
EXPORT_COLUMNS: tuple[str, ...] = ("produto", *INPUT_COLUMNS, "data_referencia", "label")
_SCHEMA = pl.Schema(
    {
        "scoreId": pl.Int64(),
        "produto": pl.String(),
        "data_primeira_compra": pl.Date(),
        "data_ultima_compra": pl.Date(),
        "total_compras": pl.Int64(),
        "valor_total_compras": pl.Float64(),
        "total_pagamentos_em_dia": pl.Int64(),
        "total_atrasos": pl.Int64(),
        "maior_atraso": pl.Int64(),
        "scoreReferenceDate": pl.Date(),
        "dataProcessamento": pl.Datetime("us"),
        "label": pl.Int64(),
    }
)


@dataclass(frozen=True)
class ExportReport:
    """Rows written, and outcomes of the period left out, by reason."""

    rows: int
    outcomes: int
    left_out: dict[str, int] = field(default_factory=dict)


def months_before(day: date, months: int) -> date:
    """``day`` minus ``months`` calendar months (the 31st becomes the month's last day)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def export_training_data(
    engine: Engine, *, product: str, since: date, output: Path
) -> ExportReport:
    """Write ``product``'s training rows for outcomes dated ``since`` or later to ``output``."""
    in_period = (Outcome.produto == product, Outcome.data_referencia >= since)
    with session_scope(engine) as session:
        counts = session.execute(
            select(Outcome.score_id.is_(None), Outcome.motivo_exclusao, func.count())
            .where(*in_period)
            .group_by(Outcome.score_id.is_(None), Outcome.motivo_exclusao)
        ).all()
    left_out: dict[str, int] = {}
    total = usable = 0
    for unlinked, exclusion, count in counts:
        total += count
        if unlinked:
            left_out["not linked to a score"] = left_out.get("not linked to a score", 0) + count
        elif exclusion is not None:
            left_out[f"score excluded ({exclusion})"] = count
        else:
            usable += count
    output.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with output.open("w", encoding="utf-8", newline="") as handle:
        pl.DataFrame(schema=dict.fromkeys(EXPORT_COLUMNS, pl.String)).write_csv(handle)
        last = -1
        while True:
            chunk = _scores_after(engine, in_period, last)
            if chunk.height == 0:
                break
            last = int(chunk["scoreId"][-1])
            rows = chunk.select(
                "produto",
                *INPUT_COLUMNS,
                pl.coalesce("scoreReferenceDate", pl.col("dataProcessamento").dt.date()).alias(
                    "data_referencia"
                ),
                "label",
            )
            rows.write_csv(handle, include_header=False)
            written += rows.height
    if usable > written:
        left_out["repeated outcome of an exported score (merged into its row)"] = usable - written
    return ExportReport(rows=written, outcomes=total, left_out=left_out)


def _scores_after(engine: Engine, in_period: tuple[object, ...], last: int) -> pl.DataFrame:
    """The next :data:`CHUNK_ROWS` usable scores after score id ``last``, one row each."""
    query = (
        select(
            Outcome.score_id,
            func.max(Outcome.produto),
            *(func.max(getattr(Outcome, name)) for name in INPUT_COLUMNS),
            func.max(Outcome.score_reference_date),
            func.max(Outcome.data_processamento),
            func.max(case((Outcome.inadimplente, 1), else_=0)),
        )
        .where(
            *in_period,  # type: ignore[arg-type]
            Outcome.score_id > last,
            Outcome.motivo_exclusao.is_(None),
        )
        .group_by(Outcome.score_id)
        .order_by(Outcome.score_id)
        .limit(CHUNK_ROWS)
    )
    with session_scope(engine) as session:
        found = [tuple(row) for row in session.execute(query)]
    return pl.DataFrame(found, schema=_SCHEMA, orient="row")
