"""The nine model features, computed on whole columns of a normalised chunk."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

#: Model features, in the column order of :func:`build_features`.
FEATURES: tuple[str, ...] = (
    "relationship_days",
    "days_since_last_purchase",
    "total_compras",
    "valor_total_compras",
    "ticket_medio",
    "total_pagamentos_em_dia",
    "total_atrasos",
    "late_share",
    "maior_atraso",
)

#: Monotone constraint per feature: +1 more never lowers risk, -1 more never raises it.
MONOTONE: dict[str, int] = {
    "relationship_days": -1,
    "days_since_last_purchase": 0,
    "total_compras": 0,
    "valor_total_compras": 0,
    "ticket_medio": 0,
    "total_pagamentos_em_dia": -1,
    "total_atrasos": 1,
    "late_share": 1,
    "maior_atraso": 1,
}


def feature_exprs(reference_date: date) -> list[pl.Expr]:
    """Polars expressions of :data:`FEATURES` over the normalised columns."""
    reference = pl.lit(reference_date, dtype=pl.Date)
    purchases = pl.col("total_compras").cast(pl.Float64)
    on_time = pl.col("total_pagamentos_em_dia").cast(pl.Float64)
    late = pl.col("total_atrasos").cast(pl.Float64)
    installments = on_time + late
    return [
        (reference - pl.col("data_primeira_compra")).dt.total_days().cast(pl.Float64)
        .alias("relationship_days"),
        (reference - pl.col("data_ultima_compra")).dt.total_days().cast(pl.Float64)
        .alias("days_since_last_purchase"),
        purchases.alias("total_compras"),
        pl.col("valor_total_compras").cast(pl.Float64).alias("valor_total_compras"),
        # No purchase means no ticket: NaN, which the model handles as missing.
        pl.when(purchases > 0)
        .then(pl.col("valor_total_compras") / purchases)
        .otherwise(float("nan"))
        .alias("ticket_medio"),
        on_time.alias("total_pagamentos_em_dia"),
        late.alias("total_atrasos"),
        pl.when(installments > 0).then(late / installments).otherwise(0.0).alias("late_share"),
        pl.col("maior_atraso").cast(pl.Float64).alias("maior_atraso"),
    ]  # fmt: skip


def build_features(df: pl.DataFrame, reference_date: date) -> np.ndarray:
    """Float64 matrix (rows, 9) of :data:`FEATURES`; nulls become NaN."""
    frame = df.select(feature_exprs(reference_date)).fill_null(float("nan"))
    matrix = frame.to_numpy(order="fortran")
    return np.asarray(matrix, dtype=np.float64)
