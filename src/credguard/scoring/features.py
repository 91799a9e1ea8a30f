"""The nine model features, computed on whole columns (NumPy) of normalised customers."""

from __future__ import annotations

from collections.abc import Mapping
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


#: Normalised columns the features are computed from.
INPUT_COLUMNS: tuple[str, ...] = (
    "data_primeira_compra",
    "data_ultima_compra",
    "total_compras",
    "valor_total_compras",
    "total_pagamentos_em_dia",
    "total_atrasos",
    "maior_atraso",
)
_EPOCH = date(1970, 1, 1)


def feature_matrix(
    columns: Mapping[str, np.ndarray], reference_date: date | np.ndarray
) -> np.ndarray:
    """Float64 matrix (rows, 9) of :data:`FEATURES` from float columns of :data:`INPUT_COLUMNS`.

    Dates come as days since 1970-01-01; NaN marks a missing value, and stays NaN in the
    features that use it (the model handles NaN as missing). ``reference_date``, the day the
    day counts run to, is one date for all rows (batches, online scoring) or one per row, as
    days since 1970-01-01 (training rows scored on different days).
    """
    reference: float | np.ndarray = (
        float((reference_date - _EPOCH).days)
        if isinstance(reference_date, date)
        else np.asarray(reference_date, dtype=np.float64)
    )
    purchases = columns["total_compras"]
    valor = columns["valor_total_compras"]
    on_time = columns["total_pagamentos_em_dia"]
    late = columns["total_atrasos"]
    installments = on_time + late
    with np.errstate(divide="ignore", invalid="ignore"):
        # No purchase means no ticket: NaN. No installment means no late share: 0.
        ticket = np.where(purchases > 0, valor / purchases, np.nan)
        late_share = np.where(installments > 0, late / installments, 0.0)
    return np.column_stack(
        [
            reference - columns["data_primeira_compra"],
            reference - columns["data_ultima_compra"],
            purchases,
            valor,
            ticket,
            on_time,
            late,
            late_share,
            columns["maior_atraso"],
        ]
    ).astype(np.float64, order="F", copy=False)


def build_features(df: pl.DataFrame, reference_date: date | pl.Series) -> np.ndarray:
    """:func:`feature_matrix` of a normalised frame's columns (nulls are missing values).

    ``reference_date``: one date, or a Date series with each row's (no nulls).
    """
    inputs = df.select(
        pl.col(name).to_physical().cast(pl.Float64).fill_null(float("nan"))
        for name in INPUT_COLUMNS
    )
    reference: date | np.ndarray = (
        reference_date
        if isinstance(reference_date, date)
        else (reference_date.cast(pl.Date).to_physical().cast(pl.Float64).to_numpy())
    )
    return feature_matrix(
        {name: inputs.get_column(name).to_numpy() for name in INPUT_COLUMNS}, reference
    )
