"""The synthetic generator: determinism, contract formats, defects, shift, true probability."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score

from credguard.customers.contract import NORMALISED_SCHEMA, REQUIRED_COLUMNS, Exclusion
from credguard.synth import generator
from credguard.synth.generator import (
    EXPECTED_EXCLUSION_COLUMN,
    OUTCOME_COLUMN,
    PROB_COLUMN,
    Shift,
    generate,
    normalise,
)

REF = date(2025, 6, 30)
PRODUCTS = ("CARTAO", "EMPRESTIMO", "CREDIARIO", "OUTRO")


def cpf_is_valid(digits: str) -> bool:
    """Reference CPF check, one at a time, written independently of the generator."""
    if not re.fullmatch(r"[0-9]{11}", digits) or len(set(digits)) == 1:
        return False
    numbers = [int(c) for c in digits]
    for size in (9, 10):
        total = sum(n * w for n, w in zip(numbers[:size], range(size + 1, 1, -1), strict=True))
        check = 0 if total % 11 < 2 else 11 - total % 11
        if numbers[size] != check:
            return False
    return True


@pytest.fixture(scope="module")
def batch() -> pl.DataFrame:
    return generate(40_000, seed=42, products=PRODUCTS, reference_date=REF, label_defects=True)


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    first = generate(2_000, seed=7, products=PRODUCTS, reference_date=REF)
    again = generate(2_000, seed=7, products=PRODUCTS, reference_date=REF)
    other = generate(2_000, seed=8, products=PRODUCTS, reference_date=REF)
    assert first.equals(again)
    assert not first.equals(other)


def test_columns_are_the_contract_plus_truth(batch: pl.DataFrame) -> None:
    plain = generate(100, seed=1, products=PRODUCTS, reference_date=REF)
    assert plain.columns == [*REQUIRED_COLUMNS, PROB_COLUMN, OUTCOME_COLUMN]
    assert all(plain.schema[c] == pl.String for c in REQUIRED_COLUMNS)
    assert batch.columns[-1] == EXPECTED_EXCLUSION_COLUMN


def test_clean_rows_use_the_accepted_formats(batch: pl.DataFrame) -> None:
    clean = batch.filter(pl.col(EXPECTED_EXCLUSION_COLUMN).is_null())

    def share(column: str, pattern: str) -> float:
        return float(clean[column].str.contains(f"^(?:{pattern})$").mean() or 0.0)

    plain_cpf, masked_cpf, short_cpf = (
        r"[0-9]{11}",
        r"[0-9]{3}\.[0-9]{3}\.[0-9]{3}-[0-9]{2}",
        r"[0-9]{10}",
    )
    assert share("cpf", f"{plain_cpf}|{masked_cpf}|{short_cpf}") == 1.0
    assert 0.05 < share("cpf", masked_cpf) < 0.15
    assert 0 < share("cpf", short_cpf) < 0.05
    iso, brazilian = r"[0-9]{4}-[0-9]{2}-[0-9]{2}", r"[0-9]{2}/[0-9]{2}/[0-9]{4}"
    for column in ("data_primeira_compra", "data_ultima_compra"):
        assert share(column, f"{iso}|{brazilian}") == 1.0
        assert 0.05 < share(column, brazilian) < 0.15
    dot, comma = r"[0-9]+\.[0-9]{2}", r"[0-9]{1,3}(?:\.[0-9]{3})*,[0-9]{2}"
    assert share("valor_total_compras", f"{dot}|{comma}") == 1.0
    assert share("valor_total_compras", r"[0-9]{1,3}\.[0-9]{3},[0-9]{2}") > 0.05
    for column in ("total_compras", "total_pagamentos_em_dia", "total_atrasos", "maior_atraso"):
        assert share(column, "[0-9]+") == 1.0
    assert set(normalise(clean)["produto"]) == set(PRODUCTS)
    assert clean["produto"].is_in(PRODUCTS).mean() > 0.95  # a few spelled "Cartão" etc.


def test_clean_cpfs_are_valid_and_unique(batch: pl.DataFrame) -> None:
    typed = normalise(batch)
    assert all(cpf_is_valid(c) for c in typed["cpf"].head(5_000))
    assert typed.select(pl.struct("cpf", "produto").is_duplicated().any()).item() is False


def test_vectorised_check_digits_match_the_reference() -> None:
    bodies = np.random.default_rng(3).integers(0, 10**9, 2_000)
    cpfs = bodies * 100 + generator.cpf_check_digits(bodies)
    assert all(cpf_is_valid(f"{c:011d}") for c in cpfs)
    assert generator.cpf_check_digits(np.array([529982247]))[0] == 25  # 529.982.247-25


def test_normalise_types_and_date_order(batch: pl.DataFrame) -> None:
    typed = normalise(batch)
    for column, dtype in NORMALISED_SCHEMA.items():
        assert typed.schema[column] == dtype, column
    assert len(typed) == batch[EXPECTED_EXCLUSION_COLUMN].null_count()
    assert (typed["data_primeira_compra"] <= typed["data_ultima_compra"]).all()
    assert (typed["data_ultima_compra"] <= REF).all()
    assert (typed["total_compras"] >= 1).all()


@pytest.mark.parametrize(
    ("product", "low", "high"),
    [
        ("CARTAO", 0.09, 0.15),
        ("EMPRESTIMO", 0.05, 0.10),
        ("CREDIARIO", 0.13, 0.20),
        ("LOJA", 0.07, 0.13),
    ],
)
def test_default_rate_per_product_is_plausible(product: str, low: float, high: float) -> None:
    df = generate(30_000, seed=5, products=[product], reference_date=REF, dirty_share=0)
    assert low < df[OUTCOME_COLUMN].mean() < high  # type: ignore[operator]


def test_dirty_share_and_each_defect_are_as_requested(batch: pl.DataFrame) -> None:
    codes = batch[EXPECTED_EXCLUSION_COLUMN]
    assert codes.is_not_null().sum() == round(40_000 * 0.02)
    assert set(codes.drop_nulls()) == {e.value for e in Exclusion}

    def rows(code: Exclusion) -> pl.DataFrame:
        return batch.filter(pl.col(EXPECTED_EXCLUSION_COLUMN) == code.value)

    invalid = rows(Exclusion.CPF_INVALIDO)["cpf"].str.replace_all(r"[.\-]", "")
    assert not any(cpf_is_valid(c.zfill(11)) for c in invalid)
    assert not set(rows(Exclusion.PRODUTO_NAO_SUPORTADO)["produto"]) & set(PRODUCTS)
    # Each duplicate repeats the CPF of an earlier clean row of the same product.
    indexed = batch.with_row_index("i").with_columns(
        pl.col("produto").str.to_uppercase().str.replace_many(["Ã", "É", "Á"], ["A", "E", "A"])
    )
    duplicates = indexed.filter(pl.col(EXPECTED_EXCLUSION_COLUMN) == "CPF_DUPLICADO")
    assert len(duplicates) > 0
    for dup in duplicates.iter_rows(named=True):
        earlier = indexed.filter(
            (pl.col("i") < dup["i"])
            & (pl.col("cpf") == dup["cpf"])
            & (pl.col("produto") == dup["produto"])
        )
        assert earlier[EXPECTED_EXCLUSION_COLUMN].null_count() >= 1
    no_history = rows(Exclusion.HISTORICO_INSUFICIENTE)
    assert (no_history["total_compras"] == "0").all()
    assert len(normalise(batch.drop(EXPECTED_EXCLUSION_COLUMN))) > len(normalise(batch))


def test_no_dirty_rows_when_share_is_zero() -> None:
    df = generate(
        5_000, seed=2, products=PRODUCTS, reference_date=REF, dirty_share=0, label_defects=True
    )
    assert df[EXPECTED_EXCLUSION_COLUMN].null_count() == 5_000


def test_shift_moves_the_population() -> None:
    def batch_with(shift: Shift | None) -> pl.DataFrame:
        frame = generate(
            30_000, seed=9, products=PRODUCTS, reference_date=REF, dirty_share=0, shift=shift
        )
        return normalise(frame)

    base = batch_with(None)
    more_late = batch_with(Shift(late_payments_factor=1.3))
    shorter = batch_with(Shift(relationship_factor=0.7))
    late_ratio = more_late["total_atrasos"].sum() / base["total_atrasos"].sum()
    assert 1.2 < late_ratio < 1.4
    assert more_late[OUTCOME_COLUMN].mean() > base[OUTCOME_COLUMN].mean()  # type: ignore[operator]
    relationship = (pl.lit(REF) - pl.col("data_primeira_compra")).dt.total_days().mean()
    assert 0.65 < shorter.select(relationship).item() / base.select(relationship).item() < 0.75


def test_outcome_follows_the_true_probability() -> None:
    df = generate(100_000, seed=13, products=PRODUCTS, reference_date=REF, dirty_share=0)
    prob, outcome = df[PROB_COLUMN].to_numpy(), df[OUTCOME_COLUMN].to_numpy()
    standard_error = np.sqrt(np.sum(prob * (1 - prob))) / len(prob)
    assert abs(outcome.mean() - prob.mean()) < 4 * standard_error
    deciles = np.quantile(prob, np.linspace(0, 1, 11))
    bins = np.clip(np.searchsorted(deciles, prob, side="right") - 1, 0, 9)
    for b in range(10):
        in_bin = bins == b
        assert abs(outcome[in_bin].mean() - prob[in_bin].mean()) < 0.02
    assert 0.75 < roc_auc_score(outcome, prob) < 0.86


def test_write_csv_round_trips(tmp_path: Path, batch: pl.DataFrame) -> None:
    path = tmp_path / "batch.csv"
    generator.write_csv(batch.head(500), path, delimiter=";")
    back = pl.read_csv(path, separator=";", infer_schema=False)
    assert back.select(REQUIRED_COLUMNS).equals(batch.head(500).select(REQUIRED_COLUMNS))
