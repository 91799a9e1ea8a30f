"""The one-customer-at-a-time validation gives exactly what the vectorised one gives."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credguard.customers.contract import EXCLUSION, NORMALISED_SCHEMA, REQUIRED_COLUMNS
from credguard.customers.record import WHITESPACE, normalise_records
from tests.customers.test_normalise import (
    BASE,
    CPF_A,
    CPF_B,
    EXCLUDED,
    PRODUCTS,
    TODAY,
    VALID_VARIANTS,
    raw,
    run,
)

Record = dict[str, str | None]


def by_record(rows: list[Record]) -> list[dict[str, Any]]:
    columns = normalise_records([{**BASE, **row} for row in rows], products=PRODUCTS, today=TODAY)
    return [
        dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)
    ]


def by_frame(rows: list[Record]) -> list[dict[str, Any]]:
    return run(rows).to_dicts()


def test_columns_are_the_normalised_schema_in_order() -> None:
    assert list(normalise_records([BASE], products=PRODUCTS, today=TODAY)) == list(
        NORMALISED_SCHEMA
    )


@pytest.mark.parametrize(("case", "override", "expected"), VALID_VARIANTS)
def test_valid_variants_match_the_batch_path(
    case: str, override: Record, expected: dict[str, Any]
) -> None:
    (result,) = by_record([override])
    assert result[EXCLUSION] is None, case
    assert {name: result[name] for name in expected} == expected, case
    assert [result] == by_frame([override]), case


@pytest.mark.parametrize(("case", "override", "expected"), EXCLUDED)
def test_each_rule_gives_the_batch_paths_exclusion(
    case: str, override: Record, expected: str
) -> None:
    (result,) = by_record([override])
    assert result[EXCLUSION] == expected, case
    assert [result] == by_frame([override]), case


def test_duplicates_within_the_request_keep_the_first() -> None:
    rows: list[Record] = [
        {"cpf": CPF_A},
        {"cpf": "529.982.247-25"},
        {"cpf": CPF_B},
        {"cpf": CPF_A, "produto": "EMPRESTIMO"},
        {"cpf": CPF_A, "total_compras": "0"},
    ]
    result = by_record(rows)
    assert [row[EXCLUSION] for row in result] == [
        None,
        "CPF_DUPLICADO",
        None,
        None,
        "CPF_DUPLICADO",
    ]
    assert result == by_frame(rows)


# Text that exercises every rule: the accepted forms, their near misses, and the characters where
# Python and Polars could part ways (Unicode whitespace, the separators Python alone strips,
# non-ASCII digits, accents, a final newline).
_TRICKY = [" ", "\t", "\n", "\u00a0", "\u2003", "\x1c", "\x1f", "\u200b", "٣", "５", "é", "\u0301"]
_pieces = st.sampled_from(
    [*"0123456789.,-/R$eE+ ", "R$", "nan", "inf", "CARTAO", "Cartão", "crediário", *_TRICKY]
)
_text = st.lists(_pieces, max_size=14).map("".join)
_cpf = st.one_of(
    st.sampled_from(
        [CPF_A, CPF_B, "529.982.247-25", "1114447773", "01234567890", "111.111.111-11"]
    ),
    _text,
)
_date = st.one_of(
    st.dates(min_value=date(1890, 1, 1), max_value=date(2030, 12, 31)).flatmap(
        lambda day: st.sampled_from([day.isoformat(), day.strftime("%d/%m/%Y")])
    ),
    _text,
)
_integer = st.one_of(st.integers(min_value=0, max_value=3 * 10**9).map(str), _text)
_money = st.one_of(
    st.sampled_from(["1234,56", "R$ 1.234,56", "1,234.56", "-0", "12.34,56", "9" * 20, "0,5"]),
    st.decimals(min_value=0, max_value=10**13, places=2).map(str),
    _text,
)
_field: dict[str, st.SearchStrategy[str]] = {
    "cpf": _cpf,
    "nome": _text,
    "produto": st.one_of(st.sampled_from((*PRODUCTS, " cartão ", "CONSORCIO")), _text),
    "data_primeira_compra": _date,
    "data_ultima_compra": _date,
    "total_compras": _integer,
    "valor_total_compras": _money,
    "total_pagamentos_em_dia": _integer,
    "total_atrasos": _integer,
    "maior_atraso": _integer,
}
_record = st.fixed_dictionaries(
    {}, optional={name: st.one_of(st.none(), strategy) for name, strategy in _field.items()}
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_record, min_size=1, max_size=6))
def test_any_text_gives_what_the_batch_path_gives(rows: list[Record]) -> None:
    assert by_record(rows) == by_frame(rows)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from([*WHITESPACE, *"x\x1c\x1d"]), max_size=8))
def test_whitespace_is_what_polars_strips(padding: str) -> None:
    value = f"{padding}{CPF_A}{padding}"
    frame = raw([{"cpf": value}]).select(pl.col("cpf").str.strip_chars())
    expected = frame.item()
    assert value.strip(WHITESPACE) == expected
    assert set(REQUIRED_COLUMNS) <= set(BASE)
