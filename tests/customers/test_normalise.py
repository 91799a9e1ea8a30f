"""Normalising raw chunks: typed values, exclusion codes and their precedence, duplicates."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credguard.customers.contract import (
    EXCLUSION,
    MAX_CPF_LENGTH,
    MAX_NOME_LENGTH,
    MAX_PRODUTO_LENGTH,
    NORMALISED_SCHEMA,
    REQUIRED_COLUMNS,
    ROW_NUMBER,
    Exclusion,
)
from credguard.customers.cpf import cpf_check_digits
from credguard.customers.reader import open_csv
from credguard.customers.validate import DuplicateTracker, normalise, product_key
from credguard.errors import InvalidInput

TODAY = date(2025, 6, 30)
PRODUCTS = ("CARTAO", "EMPRESTIMO", "CREDIARIO")
CPF_A = "52998224725"
CPF_B = "11144477735"
CPF_C = "01234567890"
BASE: dict[str, str | None] = {
    "cpf": CPF_A,
    "nome": "Ana Souza",
    "produto": "CARTAO",
    "data_primeira_compra": "2024-03-01",
    "data_ultima_compra": "2025-05-01",
    "total_compras": "12",
    "valor_total_compras": "1234.56",
    "total_pagamentos_em_dia": "10",
    "total_atrasos": "2",
    "maior_atraso": "15",
}
#: Polars' first calls on a busy machine can exceed hypothesis' 200 ms deadline.
no_deadline = settings(deadline=None)


def raw(rows: list[dict[str, str | None]], first_row_number: int = 1) -> pl.DataFrame:
    """A chunk as iter_chunks yields it: rowNumber then every column as text."""
    records = [{**BASE, **row} for row in rows]
    frame = pl.DataFrame(records, schema=dict.fromkeys(REQUIRED_COLUMNS, pl.String))
    numbers = pl.int_range(first_row_number, first_row_number + len(rows), dtype=pl.Int64)
    return frame.select(numbers.alias(ROW_NUMBER), pl.all())


def run(rows: list[dict[str, str | None]], seen: DuplicateTracker | None = None) -> pl.DataFrame:
    return normalise(
        raw(rows),
        products=PRODUCTS,
        today=TODAY,
        seen=seen if seen is not None else DuplicateTracker(),
    )


def only(row: dict[str, str | None]) -> dict[str, Any]:
    return run([row]).row(0, named=True)


VALID_VARIANTS: list[tuple[str, dict[str, str | None], dict[str, Any]]] = [
    ("base row", {}, {"cpf": CPF_A, "valor_total_compras": 1234.56}),
    ("masked cpf", {"cpf": " 529.982.247-25 "}, {"cpf": CPF_A}),
    ("10-digit cpf", {"cpf": CPF_C[1:]}, {"cpf": CPF_C}),
    ("accented product", {"produto": " Cartão "}, {"produto": "CARTAO"}),
    ("lower-case product", {"produto": "crediário"}, {"produto": "CREDIARIO"}),
    ("decimal comma", {"valor_total_compras": "1234,56"}, {"valor_total_compras": 1234.56}),
    ("brazilian money", {"valor_total_compras": "R$ 1.234,56"}, {"valor_total_compras": 1234.56}),
    (
        "non-breaking space",
        {"valor_total_compras": "R$\u00a01.234,56"},
        {"valor_total_compras": 1234.56},
    ),
    ("us grouping", {"valor_total_compras": "1,234.56"}, {"valor_total_compras": 1234.56}),
    ("many groups", {"valor_total_compras": "1.234.567,8"}, {"valor_total_compras": 1234567.8}),
    ("integer money", {"valor_total_compras": "1234"}, {"valor_total_compras": 1234.0}),
    ("zero money", {"valor_total_compras": "0"}, {"valor_total_compras": 0.0}),
    (
        "brazilian dates",
        {"data_primeira_compra": "01/03/2024", "data_ultima_compra": "30/06/2025"},
        {"data_primeira_compra": date(2024, 3, 1), "data_ultima_compra": TODAY},
    ),
    ("same day", {"data_ultima_compra": "2024-03-01"}, {"data_ultima_compra": date(2024, 3, 1)}),
    ("padded integers", {"total_compras": " 007 ", "maior_atraso": "0"}, {"total_compras": 7}),
    ("missing name", {"nome": None}, {"nome": None}),
    ("blank name", {"nome": "   "}, {"nome": None}),
]


@pytest.mark.parametrize(("case", "override", "expected"), VALID_VARIANTS)
def test_valid_variants_are_typed_and_not_excluded(
    case: str, override: dict[str, str | None], expected: dict[str, Any]
) -> None:
    result = only(override)
    assert result[EXCLUSION] is None, case
    for name, value in expected.items():
        assert result[name] == value, (case, name)


EXCLUDED: list[tuple[str, dict[str, str | None], Exclusion]] = [
    ("short cpf", {"cpf": "123456789"}, Exclusion.CPF_INVALIDO),
    ("long cpf", {"cpf": "529982247250"}, Exclusion.CPF_INVALIDO),
    ("bad check digit", {"cpf": "52998224726"}, Exclusion.CPF_INVALIDO),
    ("all digits equal", {"cpf": "111.111.111-11"}, Exclusion.CPF_INVALIDO),
    ("scientific notation", {"cpf": "1,23457E+10"}, Exclusion.CPF_INVALIDO),
    ("arabic-indic digits", {"cpf": "٥٢٩٩٨٢٢٤٧٢٥"}, Exclusion.CPF_INVALIDO),
    ("full-width digits", {"cpf": "５２９９８２２４７２５"}, Exclusion.CPF_INVALIDO),
    ("missing cpf", {"cpf": None}, Exclusion.CPF_INVALIDO),
    ("unknown product", {"produto": "CONSORCIO"}, Exclusion.PRODUTO_NAO_SUPORTADO),
    ("missing product", {"produto": None}, Exclusion.PRODUTO_NAO_SUPORTADO),
    ("missing date", {"data_primeira_compra": None}, Exclusion.DATA_INVALIDA),
    ("impossible date", {"data_primeira_compra": "2023-02-29"}, Exclusion.DATA_INVALIDA),
    ("unpadded date", {"data_primeira_compra": "1/3/2024"}, Exclusion.DATA_INVALIDA),
    ("american date", {"data_primeira_compra": "03/31/2024"}, Exclusion.DATA_INVALIDA),
    ("date with time", {"data_ultima_compra": "2025-05-01 10:00"}, Exclusion.DATA_INVALIDA),
    ("future date", {"data_ultima_compra": "2025-07-01"}, Exclusion.DATA_INVALIDA),
    ("last before first", {"data_ultima_compra": "2024-02-29"}, Exclusion.DATA_INVALIDA),
    ("negative value", {"valor_total_compras": "-10,00"}, Exclusion.VALOR_INVALIDO),
    ("missing value", {"valor_total_compras": None}, Exclusion.VALOR_INVALIDO),
    ("text value", {"valor_total_compras": "mil reais"}, Exclusion.VALOR_INVALIDO),
    ("nan value", {"valor_total_compras": "NaN"}, Exclusion.VALOR_INVALIDO),
    ("infinite value", {"valor_total_compras": "inf"}, Exclusion.VALOR_INVALIDO),
    ("huge value", {"valor_total_compras": "9" * 400}, Exclusion.VALOR_INVALIDO),
    ("two decimal commas", {"valor_total_compras": "1,234,56"}, Exclusion.VALOR_INVALIDO),
    ("bad grouping", {"valor_total_compras": "12.34,56"}, Exclusion.VALOR_INVALIDO),
    ("scientific value", {"valor_total_compras": "1e3"}, Exclusion.VALOR_INVALIDO),
    ("decimal integer", {"total_compras": "3.0"}, Exclusion.VALOR_INVALIDO),
    ("negative integer", {"total_atrasos": "-1"}, Exclusion.VALOR_INVALIDO),
    ("signed integer", {"maior_atraso": "+1"}, Exclusion.VALOR_INVALIDO),
    ("missing integer", {"total_pagamentos_em_dia": None}, Exclusion.VALOR_INVALIDO),
    ("no purchases", {"total_compras": "0"}, Exclusion.HISTORICO_INSUFICIENTE),
]


@pytest.mark.parametrize(("case", "override", "expected"), EXCLUDED)
def test_each_rule_gives_its_exclusion(
    case: str, override: dict[str, str | None], expected: Exclusion
) -> None:
    assert only(override)[EXCLUSION] == expected, case


def test_the_first_applicable_code_wins() -> None:
    everything_wrong: dict[str, str | None] = {
        "cpf": "123",
        "produto": "XPTO",
        "data_primeira_compra": "ontem",
        "valor_total_compras": "-1",
        "total_compras": "0",
    }
    drop_in_order = ["cpf", "produto", "data_primeira_compra", "valor_total_compras"]
    expected = [
        Exclusion.CPF_INVALIDO,
        Exclusion.PRODUTO_NAO_SUPORTADO,
        Exclusion.DATA_INVALIDA,
        Exclusion.VALOR_INVALIDO,
        Exclusion.HISTORICO_INSUFICIENTE,
    ]
    rows = [everything_wrong]
    for name in drop_in_order:
        rows.append({key: value for key, value in rows[-1].items() if key != name})
    # One chunk per row: in one chunk the later rows would be duplicates of each other.
    assert [only(row)[EXCLUSION] for row in rows] == expected


def test_a_duplicate_outranks_date_value_and_history_codes() -> None:
    bad_rest: dict[str, str | None] = {
        "data_ultima_compra": "2099-01-01",
        "valor_total_compras": "-1",
        "total_compras": "0",
    }
    result = run([{}, bad_rest, {"cpf": "529.982.247-25", "produto": "Cartão"}])
    assert result[EXCLUSION].to_list() == [None, Exclusion.CPF_DUPLICADO, Exclusion.CPF_DUPLICADO]


def test_duplicates_within_a_chunk_keep_the_first_row() -> None:
    rows: list[dict[str, str | None]] = [
        {"cpf": CPF_A, "produto": "CARTAO"},
        {"cpf": CPF_A, "produto": "EMPRESTIMO"},  # another product: not a duplicate
        {"cpf": CPF_B, "produto": "CARTAO"},
        {"cpf": "529.982.247-25", "produto": "cartão"},  # same customer and product, other form
        {"cpf": CPF_A, "produto": "XPTO"},  # unsupported products take no part
        {"cpf": CPF_A, "produto": "XPTO"},
        {"cpf": "123", "produto": "CARTAO"},  # invalid CPFs take no part
        {"cpf": "123", "produto": "CARTAO"},
    ]
    assert run(rows)[EXCLUSION].to_list() == [
        None,
        None,
        None,
        Exclusion.CPF_DUPLICADO,
        Exclusion.PRODUTO_NAO_SUPORTADO,
        Exclusion.PRODUTO_NAO_SUPORTADO,
        Exclusion.CPF_INVALIDO,
        Exclusion.CPF_INVALIDO,
    ]


def test_an_excluded_first_occurrence_still_counts_for_duplicates() -> None:
    # The contract: the same CPF and product appeared earlier, whatever became of that row.
    result = run([{"total_compras": "0"}, {}])
    assert result[EXCLUSION].to_list() == [
        Exclusion.HISTORICO_INSUFICIENTE,
        Exclusion.CPF_DUPLICADO,
    ]


def test_duplicates_across_chunks_share_the_tracker() -> None:
    seen = DuplicateTracker()
    first = normalise(
        raw([{"cpf": CPF_A}, {"cpf": CPF_B}]), products=PRODUCTS, today=TODAY, seen=seen
    )
    second = normalise(
        raw([{"cpf": CPF_C}, {"cpf": CPF_B}, {"cpf": CPF_B, "produto": "CREDIARIO"}], 3),
        products=PRODUCTS,
        today=TODAY,
        seen=seen,
    )
    third = normalise(raw([{"cpf": CPF_C}], 6), products=PRODUCTS, today=TODAY, seen=seen)
    assert first[EXCLUSION].to_list() == [None, None]
    assert second[EXCLUSION].to_list() == [None, Exclusion.CPF_DUPLICADO, None]
    assert third[EXCLUSION].to_list() == [Exclusion.CPF_DUPLICADO]
    assert len(seen) == 4
    # A fresh tracker (a new file) knows nothing.
    assert run([{"cpf": CPF_C}])[EXCLUSION].to_list() == [None]


def test_output_has_exactly_the_normalised_schema_and_keeps_row_numbers() -> None:
    result = normalise(
        raw([{}, {"cpf": "x"}], first_row_number=41).with_columns(pl.lit("kept").alias("extra")),
        products=PRODUCTS,
        today=TODAY,
        seen=DuplicateTracker(),
    )
    assert result.schema == pl.Schema(NORMALISED_SCHEMA)
    assert result[ROW_NUMBER].to_list() == [41, 42]


def test_excluded_rows_keep_what_parsed_and_store_raw_text_truncated() -> None:
    long_cpf = " 1234567890123456789 "
    result = only(
        {
            "cpf": long_cpf,
            "nome": "N" * (MAX_NOME_LENGTH + 50),
            "produto": " " + "P" * (MAX_PRODUTO_LENGTH + 5),
            "data_ultima_compra": "nunca",
            "valor_total_compras": "R$ 10,00",
        }
    )
    assert result[EXCLUSION] == Exclusion.CPF_INVALIDO
    assert result["cpf"] == long_cpf.strip()[:MAX_CPF_LENGTH]
    assert result["nome"] == "N" * MAX_NOME_LENGTH
    assert result["produto"] == "P" * MAX_PRODUTO_LENGTH
    assert result["data_primeira_compra"] == date(2024, 3, 1)
    assert result["data_ultima_compra"] is None
    assert result["valor_total_compras"] == 10.0
    assert result["total_compras"] == 12


def test_scientific_cpf_is_kept_as_written() -> None:
    result = only({"cpf": "1,23457E+10"})
    assert (result["cpf"], result[EXCLUSION]) == ("1,23457E+10", Exclusion.CPF_INVALIDO)


def test_an_empty_chunk_gives_an_empty_normalised_frame() -> None:
    result = normalise(raw([]), products=PRODUCTS, today=TODAY, seen=DuplicateTracker())
    assert result.height == 0
    assert result.schema == pl.Schema(NORMALISED_SCHEMA)


def test_a_chunk_missing_a_required_column_is_refused() -> None:
    with pytest.raises(InvalidInput, match="maior_atraso"):
        normalise(
            raw([{}]).drop("maior_atraso"), products=PRODUCTS, today=TODAY, seen=DuplicateTracker()
        )


def test_two_configured_spellings_of_one_product_resolve_to_the_first() -> None:
    result = normalise(
        raw([{"produto": "cartão"}]),
        products=["CARTAO", "Cartão"],
        today=TODAY,
        seen=DuplicateTracker(),
    )
    assert result["produto"].to_list() == ["CARTAO"]


def test_configured_products_are_matched_by_their_key() -> None:
    assert product_key(" Crediário ") == "CREDIARIO"
    result = normalise(
        raw([{"produto": "CREDIÁRIO"}, {"produto": "crediario"}, {"produto": "CARTAO"}]),
        products=["Crediário"],
        today=TODAY,
        seen=DuplicateTracker(),
    )
    assert result["produto"].to_list() == ["Crediário", "Crediário", "CARTAO"]
    assert result[EXCLUSION].to_list() == [
        None,
        Exclusion.CPF_DUPLICADO,
        Exclusion.PRODUTO_NAO_SUPORTADO,
    ]


cents = st.integers(min_value=0, max_value=10**13)


def brazilian(value: int) -> str:
    return f"{value // 100:,}".replace(",", ".") + f",{value % 100:02d}"


@no_deadline
@given(cents, st.sampled_from(["plain", "comma", "brazilian", "american", "currency"]))
def test_money_in_every_accepted_form_reads_the_same(value: int, form: str) -> None:
    written = {
        "plain": f"{value // 100}.{value % 100:02d}",
        "comma": f"{value // 100},{value % 100:02d}",
        "brazilian": brazilian(value),
        "american": f"{value // 100:,}.{value % 100:02d}",
        "currency": f"R$ {brazilian(value)}",
    }[form]
    result = only({"valor_total_compras": written})
    assert result[EXCLUSION] is None
    assert result["valor_total_compras"] == pytest.approx(value / 100, rel=1e-15, abs=1e-9)


@no_deadline
@given(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
def test_dates_in_both_forms_read_the_same(day: date) -> None:
    result = only(
        {"data_primeira_compra": day.isoformat(), "data_ultima_compra": day.strftime("%d/%m/%Y")}
    )
    assert result[EXCLUSION] is None
    assert (result["data_primeira_compra"], result["data_ultima_compra"]) == (day, day)


def test_tomorrow_is_the_future() -> None:
    tomorrow = (TODAY + timedelta(days=1)).isoformat()
    assert only({"data_ultima_compra": tomorrow})[EXCLUSION] == Exclusion.DATA_INVALIDA
    assert only({"data_ultima_compra": TODAY.isoformat()})[EXCLUSION] is None


def test_reader_and_normalise_together(tmp_path: Path) -> None:
    body = "039053344"
    cpf = body + cpf_check_digits(body)
    header = ";".join(REQUIRED_COLUMNS)
    lines = [
        f"{cpf[1:]};João;Cartão;01/03/2024;2024-05-01;3;1.234,56;1;0;0",
        f"{cpf};João;CARTAO;01/03/2024;2024-05-01;3;1.234,56;1;0;0",
        "1,23457E+10;Maria;CARTAO;01/03/2024;2024-05-01;3;10;1;0;0",
    ]
    path = tmp_path / "batch.csv"
    path.write_bytes(("\r\n".join([header, *lines]) + "\r\n").encode("cp1252"))
    seen = DuplicateTracker()
    chunks = [
        normalise(chunk, products=PRODUCTS, today=TODAY, seen=seen)
        for chunk in open_csv(path).iter_chunks(2)
    ]
    result = pl.concat(chunks)
    assert result["cpf"].to_list() == [cpf, cpf, "1,23457E+10"]
    assert result["nome"].to_list() == ["João", "João", "Maria"]
    assert result["valor_total_compras"].to_list() == [1234.56, 1234.56, 10.0]
    assert result[EXCLUSION].to_list() == [None, Exclusion.CPF_DUPLICADO, Exclusion.CPF_INVALIDO]
