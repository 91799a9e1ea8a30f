"""CPF normalisation and check digits: properties over generated CPFs, scalar vs vectorised."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from credguard.customers.cpf import (
    cpf_check_digits,
    cpf_is_valid,
    cpfs_from_bodies,
    is_valid_cpf,
    normalise_cpf,
)

bodies = st.integers(min_value=0, max_value=999_999_999).map(lambda n: f"{n:09d}")
#: Digits that Python's isdigit() and regex \d accept but the contract does not.
NON_ASCII_DIGITS = "٠١٢٣٤٥٦٧٨٩" + "۰۱۲۳۴۵۶۷۸۹" + "０１２３４５６７８９" + "०१२३४५६७८९"
#: Polars' first calls on a busy machine can exceed hypothesis' 200 ms deadline.
no_deadline = settings(deadline=None)


def complete(body: str) -> str:
    return body + cpf_check_digits(body)


def masked(cpf: str) -> str:
    return f"{cpf[:3]}.{cpf[3:6]}.{cpf[6:9]}-{cpf[9:]}"


def check(values: Sequence[str | None]) -> tuple[list[str | None], list[bool]]:
    """Run normalise_cpf then cpf_is_valid over a column, as validation does."""
    frame = pl.DataFrame({"raw": list(values)}, schema={"raw": pl.String}).with_columns(
        normalise_cpf(pl.col("raw")).alias("cpf")
    )
    frame = frame.with_columns(cpf_is_valid(pl.col("cpf")).alias("ok"))
    return frame["cpf"].to_list(), frame["ok"].to_list()


def test_known_check_digits() -> None:
    assert cpf_check_digits("123456789") == "09"
    assert cpf_check_digits("111444777") == "35"
    assert cpf_check_digits("529982247") == "25"
    # Remainder below 2 gives 0 for the first digit.
    assert cpf_check_digits("000000001") == "91"


@pytest.mark.parametrize("body", ["12345678", "1234567890", "12345678a", "١٢٣٤٥٦٧٨٩"])
def test_check_digits_refuse_a_malformed_body(body: str) -> None:
    with pytest.raises(ValueError):
        cpf_check_digits(body)


@no_deadline
@given(bodies)
def test_every_valid_cpf_is_accepted_in_all_its_forms(body: str) -> None:
    cpf = complete(body)
    assume(len(set(cpf)) > 1)
    forms = [
        cpf,
        masked(cpf),
        f"{cpf[:9]}-{cpf[9:]}",
        f"{cpf[:3]}.{cpf[3:6]}.{cpf[6:]}",
        f"  {cpf}\t",
        f" {masked(cpf)} ",
    ]
    if cpf.startswith("0"):
        forms.append(cpf[1:])
        forms.append(f" {cpf[1:]} ")
    normalised, ok = check(forms)
    assert normalised == [cpf] * len(forms)
    assert all(ok)
    assert is_valid_cpf(cpf)


@no_deadline
@given(bodies, st.sampled_from([9, 10]), st.integers(min_value=1, max_value=9))
def test_changing_a_check_digit_is_always_rejected(body: str, position: int, delta: int) -> None:
    cpf = complete(body)
    wrong = cpf[:position] + str((int(cpf[position]) + delta) % 10) + cpf[position + 1 :]
    _, ok = check([wrong, masked(wrong)])
    assert ok == [False, False]
    assert not is_valid_cpf(wrong)


@pytest.mark.parametrize("digit", "0123456789")
def test_all_equal_digits_are_rejected(digit: str) -> None:
    cpf = digit * 11
    _, ok = check([cpf, masked(cpf), digit * 10])
    assert ok == [False, False, False]
    assert not is_valid_cpf(cpf)


@no_deadline
@given(bodies, st.data())
def test_non_ascii_digits_are_never_accepted(body: str, data: st.DataObject) -> None:
    cpf = complete(body)
    # Swap one ASCII digit for a look-alike digit of another script.
    position = data.draw(st.integers(min_value=0, max_value=10))
    scripts = [NON_ASCII_DIGITS[i : i + 10] for i in range(0, len(NON_ASCII_DIGITS), 10)]
    script = data.draw(st.sampled_from(scripts))
    lookalike = cpf[:position] + script[int(cpf[position])] + cpf[position + 1 :]
    assert lookalike.isdigit()  # what makes isdigit() unsafe here
    normalised, ok = check([lookalike, masked(lookalike)])
    assert normalised == [None, None]
    assert ok == [False, False]
    assert not is_valid_cpf(lookalike)


@no_deadline
@given(st.text(alphabet="0123456789.- " + NON_ASCII_DIGITS, max_size=16))
def test_strings_with_any_non_ascii_digit_are_never_accepted(text: str) -> None:
    assume(any(c in NON_ASCII_DIGITS for c in text))
    normalised, ok = check([text])
    assert normalised == [None]
    assert ok == [False]


@no_deadline
@given(st.lists(st.text(alphabet="0123456789", min_size=11, max_size=11), max_size=40))
def test_vectorised_check_agrees_with_scalar_on_11_digit_strings(values: list[str]) -> None:
    ok = pl.DataFrame({"cpf": values}, schema={"cpf": pl.String}).select(
        cpf_is_valid(pl.col("cpf"))
    )
    assert ok.to_series().to_list() == [is_valid_cpf(v) for v in values]


@no_deadline
@given(st.lists(st.one_of(st.none(), st.text(max_size=14)), max_size=40))
def test_vectorised_check_agrees_with_scalar_on_any_string(values: list[str | None]) -> None:
    ok = pl.DataFrame({"cpf": values}, schema={"cpf": pl.String}).select(
        cpf_is_valid(pl.col("cpf"))
    )
    assert ok.to_series().to_list() == [v is not None and is_valid_cpf(v) for v in values]


@pytest.mark.parametrize(
    "damaged",
    [
        "1,23457E+10",
        "1.23457E+10",
        "1.23457e+10",
        "12345678909.0",
        "123456789",
        "123456789091",
        "123-456-789.09",
        "123 456 789 09",
        "abc",
        "",
        None,
    ],
)
def test_damaged_or_malformed_values_are_not_guessed(damaged: str | None) -> None:
    normalised, ok = check([damaged])
    assert normalised == [None]
    assert ok == [False]


@no_deadline
@given(st.lists(st.integers(min_value=0, max_value=999_999_999), max_size=60))
def test_cpfs_from_bodies_matches_the_scalar_reference(values: list[int]) -> None:
    generated = cpfs_from_bodies(np.array(values, dtype=np.uint64))
    assert generated.dtype == pl.String
    assert generated.to_list() == [complete(f"{v:09d}") for v in values]


def test_cpfs_from_bodies_refuses_out_of_range_bodies() -> None:
    with pytest.raises(ValueError):
        cpfs_from_bodies(np.array([1_000_000_000]))
