"""Column names, types and exclusion codes of the batch CSV contract (PRODUCT.md, "Data contract")."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

import polars as pl

#: Columns every batch file must have (any order; extra columns are passed through).
REQUIRED_COLUMNS: tuple[str, ...] = (
    "cpf",
    "nome",
    "produto",
    "data_primeira_compra",
    "data_ultima_compra",
    "total_compras",
    "valor_total_compras",
    "total_pagamentos_em_dia",
    "total_atrasos",
    "maior_atraso",
)

#: Columns holding whole numbers (counts and days).
INTEGER_COLUMNS: tuple[str, ...] = (
    "total_compras",
    "total_pagamentos_em_dia",
    "total_atrasos",
    "maior_atraso",
)

#: 1-based position of a customer row in its file (blank lines not counted).
ROW_NUMBER = "rowNumber"
#: Why a row was not scored; null when it was.
EXCLUSION = "motivoExclusao"


class Exclusion(StrEnum):
    """Why a row gets no score. Checked in this order: the first that applies wins."""

    CPF_INVALIDO = "CPF_INVALIDO"
    PRODUTO_NAO_SUPORTADO = "PRODUTO_NAO_SUPORTADO"
    CPF_DUPLICADO = "CPF_DUPLICADO"
    DATA_INVALIDA = "DATA_INVALIDA"
    VALOR_INVALIDO = "VALOR_INVALIDO"
    HISTORICO_INSUFICIENTE = "HISTORICO_INSUFICIENTE"


#: Schema of a normalised chunk: what validation hands to scoring and storage.
NORMALISED_SCHEMA: dict[str, pl.DataType] = {
    ROW_NUMBER: pl.Int64(),
    "cpf": pl.String(),
    "nome": pl.String(),
    "produto": pl.String(),
    "data_primeira_compra": pl.Date(),
    "data_ultima_compra": pl.Date(),
    "total_compras": pl.Int64(),
    "valor_total_compras": pl.Float64(),
    "total_pagamentos_em_dia": pl.Int64(),
    "total_atrasos": pl.Int64(),
    "maior_atraso": pl.Int64(),
    EXCLUSION: pl.String(),
}

#: Columns CredGuard adds to its results: an input file may not bring its own.
RESULT_COLUMNS: tuple[str, ...] = (
    "scoreProbInadimplencia",
    "score",
    "faixaScore",
    "reasonCode1",
    "reasonCode2",
    "reasonCode3",
    "modelName",
    "modelVersion",
    EXCLUSION,
    "motivosScore",
)

#: Largest values the storage columns hold (INT and DECIMAL(14,2)); larger is VALOR_INVALIDO.
MAX_INTEGER = 2_147_483_647
MAX_VALOR = 999_999_999_999.99
#: Earliest purchase date accepted; earlier is DATA_INVALIDA (and year 0 is no date at all).
MIN_DATE = date(1900, 1, 1)

#: Longest values stored for free-text columns (the database columns' lengths).
MAX_CPF_LENGTH = 14
MAX_NOME_LENGTH = 200
MAX_PRODUTO_LENGTH = 40
