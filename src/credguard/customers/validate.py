"""Turn a raw text chunk into typed columns and give each bad row its exclusion code.

A bad row never fails the job: it is kept, its typed columns hold whatever parsed (null where
nothing did) and ``motivoExclusao`` says why it gets no score. All of it runs on whole columns.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import date

import numpy as np
import numpy.typing as npt
import polars as pl

from credguard.customers.contract import (
    EXCLUSION,
    INTEGER_COLUMNS,
    MAX_CPF_LENGTH,
    MAX_INTEGER,
    MAX_NOME_LENGTH,
    MAX_PRODUTO_LENGTH,
    MAX_VALOR,
    MIN_DATE,
    NORMALISED_SCHEMA,
    REQUIRED_COLUMNS,
    ROW_NUMBER,
    Exclusion,
)
from credguard.customers.cpf import cpf_is_valid, normalise_cpf
from credguard.errors import InvalidInput

#: A duplicate key is cpf * _PRODUCT_SLOTS + product index: unique, and fits Int64 for 11 digits.
_PRODUCT_SLOTS = 1024

_DATE_COLUMNS = ("data_primeira_compra", "data_ultima_compra")
ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
BR_DATE = r"^[0-9]{2}/[0-9]{2}/[0-9]{4}$"
#: Money after removing "R$" and spaces: plain, one decimal separator, or grouped thousands whose
#: separator differs from the decimal one. "1.234" alone reads as 1.234 (contract: only "." means
#: a decimal point); a grouping that is not in threes is refused rather than guessed.
MONEY = (
    r"^-?(?:[0-9]+(?:[.,][0-9]+)?"
    r"|[0-9]{1,3}(?:\.[0-9]{3})+,[0-9]+"
    r"|[0-9]{1,3}(?:,[0-9]{3})+\.[0-9]+)$"
)


class DuplicateTracker:
    """Keys (CPF, product) already seen in earlier chunks of one file."""

    def __init__(self) -> None:
        # Kept sorted so membership is a binary search: a hash set rebuilt for every chunk
        # would cost as much as the whole file per chunk on large files.
        self._keys: npt.NDArray[np.int64] = np.empty(0, dtype=np.int64)

    def __len__(self) -> int:
        return int(self._keys.size)

    def contains(self, keys: pl.Series) -> pl.Series:
        """Whether each key was seen in an earlier chunk (null keys answer False)."""
        values = keys.fill_null(-1).to_numpy().astype(np.int64, copy=False)
        if self._keys.size == 0:
            return pl.Series(keys.name, np.zeros(values.size, dtype=bool))
        positions = np.searchsorted(self._keys, values).clip(max=self._keys.size - 1)
        return pl.Series(keys.name, self._keys[positions] == values)

    def add(self, keys: pl.Series) -> None:
        """Remember the non-null keys of a chunk."""
        new = keys.drop_nulls().unique().to_numpy().astype(np.int64, copy=False)
        new = new[~self.contains(pl.Series(new)).to_numpy()]
        if new.size:
            # Two sorted runs: the stable sort (timsort) merges them in linear time.
            merged = np.concatenate([self._keys, np.sort(new)])
            merged.sort(kind="stable")
            self._keys = merged


def normalise(
    raw: pl.DataFrame,
    *,
    products: Sequence[str],
    today: date,
    seen: DuplicateTracker,
    duplicates: bool = True,
) -> pl.DataFrame:
    """Type a raw chunk into NORMALISED_SCHEMA and set motivoExclusao on rows not to score.

    With ``duplicates=False`` a repeated CPF is not an exclusion (training data holds one row
    per scoring of a customer); every other rule still applies to it.
    """
    missing = [name for name in (ROW_NUMBER, *REQUIRED_COLUMNS) if name not in raw.columns]
    if missing:
        raise InvalidInput(f"missing required column(s): {', '.join(missing)}")
    if len(products) > _PRODUCT_SLOTS:
        raise ValueError(f"at most {_PRODUCT_SLOTS} products are supported")

    # Staged so each intermediate column is computed once and shared by the rules using it.
    typed = (
        raw.lazy()
        .select(
            pl.col(ROW_NUMBER).cast(pl.Int64),
            pl.col("cpf").str.strip_chars().alias("_cpf_raw"),
            normalise_cpf(pl.col("cpf")).alias("_cpf11"),
            pl.col("produto").str.strip_chars().alias("_produto_raw"),
            _blank_to_null(pl.col("nome").str.strip_chars()).str.slice(0, MAX_NOME_LENGTH),
            *(_parse_date(pl.col(name)).alias(name) for name in _DATE_COLUMNS),
            *(_parse_integer(pl.col(name)).alias(name) for name in INTEGER_COLUMNS),
            _parse_money(pl.col("valor_total_compras")).alias("valor_total_compras"),
        )
        .with_columns(
            cpf_is_valid(pl.col("_cpf11")).alias("_cpf_ok"),
            product_index(pl.col("_produto_raw"), products).alias("_produto_index"),
        )
        .with_columns(
            pl.when(pl.col("_cpf_ok"))
            .then(pl.col("_cpf11"))
            .otherwise(_blank_to_null(pl.col("_cpf_raw")).str.slice(0, MAX_CPF_LENGTH))
            .alias("cpf"),
            pl.when(pl.col("_produto_index").is_not_null())
            .then(product_code(pl.col("_produto_index"), products))
            .otherwise(_blank_to_null(pl.col("_produto_raw")).str.slice(0, MAX_PRODUTO_LENGTH))
            .alias("produto"),
            pl.when(pl.col("_cpf_ok") & pl.col("_produto_index").is_not_null())
            .then(pl.col("_cpf11").cast(pl.Int64, strict=False) * _PRODUCT_SLOTS)
            .add(pl.col("_produto_index"))
            .alias("_key"),
        )
        .collect()
    )

    keys = typed.get_column("_key")
    earlier_chunk = seen.contains(keys)
    seen.add(keys)
    first, last = pl.col("data_primeira_compra"), pl.col("data_ultima_compra")
    valor = pl.col("valor_total_compras")
    integers_bad = pl.any_horizontal(*(pl.col(name).is_null() for name in INTEGER_COLUMNS))
    exclusion = (
        pl.when(~pl.col("_cpf_ok"))
        .then(pl.lit(Exclusion.CPF_INVALIDO.value))
        .when(pl.col("_produto_index").is_null())
        .then(pl.lit(Exclusion.PRODUTO_NAO_SUPORTADO.value))
        .when((~pl.col("_key").is_first_distinct() | earlier_chunk) & duplicates)
        .then(pl.lit(Exclusion.CPF_DUPLICADO.value))
        .when(first.is_null() | last.is_null() | (first > today) | (last > today) | (last < first))
        .then(pl.lit(Exclusion.DATA_INVALIDA.value))
        .when(integers_bad | valor.is_null() | (valor < 0) | ~valor.is_finite())
        .then(pl.lit(Exclusion.VALOR_INVALIDO.value))
        .when(pl.col("total_compras") == 0)
        .then(pl.lit(Exclusion.HISTORICO_INSUFICIENTE.value))
        .otherwise(pl.lit(None, dtype=pl.String))
        .alias(EXCLUSION)
    )
    return typed.select(
        *(pl.col(name) for name in NORMALISED_SCHEMA if name != EXCLUSION), exclusion
    ).cast(NORMALISED_SCHEMA)  # type: ignore[arg-type]


def _blank_to_null(text: pl.Expr) -> pl.Expr:
    return pl.when(text.str.len_bytes() > 0).then(text)


def product_key(text: str) -> str:
    """The matching key of a product name: stripped, upper case, accents removed."""
    decomposed = unicodedata.normalize("NFKD", text.strip().upper())
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


def _product_keys(text: pl.Expr) -> pl.Expr:
    """:func:`product_key` of each value of a column of stripped text."""
    # Upper-casing first, then NFKD: the same order as product_key, so both sides agree.
    return text.str.to_uppercase().str.normalize("NFKD").str.replace_all(r"\p{Mn}", "")


def _product_index(stripped: pl.Expr, products: Sequence[str]) -> pl.Expr:
    """Position of the configured product a stripped value names, or null."""
    # Two configured spellings of one product ("CARTAO", "Cartão") resolve to the first.
    first_index: dict[str, int] = {}
    for index, code in enumerate(products):
        first_index.setdefault(product_key(code), index)
    return _product_keys(stripped).replace_strict(
        list(first_index), list(first_index.values()), default=None, return_dtype=pl.Int64
    )


def product_index(stripped: pl.Expr, products: Sequence[str]) -> pl.Expr:
    """Position in ``products`` of the product each stripped value names, or null.

    Case and accents are ignored (:func:`product_key`); computed once per distinct value,
    as a file holds a handful of spellings.
    """
    # maintain_order: both uses of `distinct` must list the values in the same order.
    distinct = stripped.unique(maintain_order=True).drop_nulls()
    return stripped.replace_strict(
        distinct, _product_index(distinct, products), default=None, return_dtype=pl.Int64
    )


def product_code(index: pl.Expr, products: Sequence[str]) -> pl.Expr:
    """The configured code at each :func:`product_index` (null stays null)."""
    return index.replace_strict(
        list(range(len(products))), list(products), default=None, return_dtype=pl.String
    )


def parse_dates(text: pl.Expr) -> pl.Expr:
    """Dates written ``2026-10-31`` or ``31/10/2026`` (whitespace around ignored); else null."""
    stripped = text.str.strip_chars()
    # Polars' parser alone is lenient ("2024-3-1", "+2024-03-01"); the patterns make it strict.
    return pl.coalesce(
        pl.when(stripped.str.contains(ISO_DATE)).then(
            stripped.str.to_date("%Y-%m-%d", strict=False)
        ),
        pl.when(stripped.str.contains(BR_DATE)).then(
            stripped.str.to_date("%d/%m/%Y", strict=False)
        ),
    )


def _parse_date(text: pl.Expr) -> pl.Expr:
    parsed = parse_dates(text)
    return pl.when(parsed >= MIN_DATE).then(parsed)


def _parse_integer(text: pl.Expr) -> pl.Expr:
    stripped = text.str.strip_chars()
    # The pattern refuses what a cast would let through: "+5", "-5", "5.0", non-ASCII digits.
    value = stripped.cast(pl.Int64, strict=False)
    # Values the database cannot hold are as unusable as unparseable ones.
    return pl.when(stripped.str.contains(r"^[0-9]+$") & (value <= MAX_INTEGER)).then(value)


def _parse_money(text: pl.Expr) -> pl.Expr:
    compact = text.str.replace_all("R$", "", literal=True).str.replace_all(r"\s", "")
    # In a value matching MONEY the decimal separator is a comma exactly when a comma
    # precedes the final digits; every other separator then groups thousands.
    decimal_comma = compact.str.contains(r",[0-9]+$")
    with_point = (
        pl.when(decimal_comma)
        .then(compact.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True))
        .otherwise(compact.str.replace_all(",", "", literal=True))
    )
    value = with_point.cast(pl.Float64, strict=False)
    return pl.when(compact.str.contains(MONEY) & (value.abs() <= MAX_VALOR)).then(value)
