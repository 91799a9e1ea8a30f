"""Values a database column cannot hold are invalid values, with the usual precedence."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from credguard.customers.contract import REQUIRED_COLUMNS, ROW_NUMBER
from credguard.customers.validate import DuplicateTracker, normalise

CLEAN = {
    "cpf": "52998224725",
    "nome": "Ana",
    "produto": "CARTAO",
    "data_primeira_compra": "2020-01-01",
    "data_ultima_compra": "2024-01-01",
    "total_compras": "3",
    "valor_total_compras": "100.00",
    "total_pagamentos_em_dia": "3",
    "total_atrasos": "0",
    "maior_atraso": "0",
}


@pytest.mark.parametrize(
    ("changes", "expected", "nulled"),
    [
        ({"valor_total_compras": "10000000000000"}, "VALOR_INVALIDO", "valor_total_compras"),
        ({"maior_atraso": "3000000000"}, "VALOR_INVALIDO", "maior_atraso"),
        ({"maior_atraso": "3000000000", "total_compras": "0"}, "VALOR_INVALIDO", "maior_atraso"),
        ({"data_primeira_compra": "0000-03-01"}, "DATA_INVALIDA", "data_primeira_compra"),
        ({"data_primeira_compra": "31/12/1899"}, "DATA_INVALIDA", "data_primeira_compra"),
        ({"maior_atraso": "2147483647"}, None, None),
    ],
)
def test_unstorable_values_are_excluded_and_not_kept(
    changes: dict[str, str], expected: str | None, nulled: str | None
) -> None:
    raw = pl.DataFrame([{**CLEAN, **changes}], schema=dict.fromkeys(REQUIRED_COLUMNS, pl.String))
    raw = raw.with_columns(pl.lit(1, dtype=pl.Int64).alias(ROW_NUMBER)).select(
        ROW_NUMBER, *REQUIRED_COLUMNS
    )
    row = normalise(raw, products=["CARTAO"], today=date(2025, 1, 1), seen=DuplicateTracker()).row(
        0, named=True
    )
    assert row["motivoExclusao"] == expected
    if nulled:
        assert row[nulled] is None
